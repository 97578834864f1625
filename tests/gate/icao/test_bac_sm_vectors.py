"""BAC and secure messaging against the worked example of ICAO Doc 9303 part 11, appendix D."""

from __future__ import annotations

import pytest

from gate.errors import SecurityError
from gate.icao import crypto
from gate.icao.apdu import Command
from gate.icao.bac import AccessKeys, Handshake, SessionKeys
from gate.icao.mrz import mrz_information
from gate.icao.sm import SecureMessaging

H = bytes.fromhex


def test_key_seed_and_access_keys() -> None:
    info = mrz_information("L898902C", "690806", "940623")
    assert info == b"L898902C<369080619406236"
    assert crypto.bac_key_seed(info) == H("239AB9CB282DAF66231DC5A4DF6BFBAE")
    keys = AccessKeys.from_mrz_information(info)
    assert keys.k_enc == H("AB94FDECF2674FDFB9B391F85D7F76F2")
    assert keys.k_mac == H("7962D9ECE03D1ACD4C76089DCE131543")


def _handshake() -> Handshake:
    keys = AccessKeys.from_mrz_information(b"L898902C<369080619406236")
    return Handshake.start(
        keys,
        H("4608F91988702212"),
        rnd_ifd=H("781723860C06C226"),
        k_ifd=H("0B795240CB7049B01C19B33E32804F0B"),
    )


def test_mutual_authenticate_cryptogram() -> None:
    data = _handshake().command_data()
    assert data[:32] == H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert data[32:] == H("5F1448EEA8AD90A7")


def test_session_keys_from_chip_answer() -> None:
    hs = _handshake()
    plain = hs.rnd_ic + hs.rnd_ifd + H("0B4F80323EB3191CB04970CB4052790B")
    e_ic = crypto.encrypt(hs.keys.k_enc, plain)
    session = hs.finish(e_ic + crypto.retail_mac(hs.keys.k_mac, e_ic))
    assert session.ks_enc == H("979EC13B1CBFE9DCD01AB0FED307EAE5")
    assert session.ks_mac == H("F1CB1F1FB5ADF208806B89DC579DC1F8")
    assert session.ssc == 0x887022120C06C226


def test_wrong_chip_mac_fails_bac() -> None:
    hs = _handshake()
    with pytest.raises(SecurityError, match="MAC"):
        hs.finish(bytes(40))


def _sm() -> SecureMessaging:
    return SecureMessaging(
        SessionKeys(
            H("979EC13B1CBFE9DCD01AB0FED307EAE5"),
            H("F1CB1F1FB5ADF208806B89DC579DC1F8"),
            0x887022120C06C226,
        )
    )


def test_protected_select_and_read() -> None:
    sm = _sm()
    wrapped = sm.wrap(Command(0x00, 0xA4, 0x02, 0x0C, H("011E")))
    assert wrapped == H("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
    answer = sm.unwrap(H("990290008E08FA855A5D4C50A8ED9000"))
    assert answer.sw == 0x9000 and answer.data == b""
    wrapped = sm.wrap(Command(0x00, 0xB0, 0x00, 0x00, le=4))
    assert wrapped == H("0CB000000D9701048E08ED6705417E96BA5500")
    answer = sm.unwrap(H("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"))
    assert answer.data == H("60145F01")


def test_tampered_response_mac_is_rejected() -> None:
    sm = _sm()
    sm.wrap(Command(0x00, 0xA4, 0x02, 0x0C, H("011E")))
    with pytest.raises(SecurityError, match="MAC does not verify"):
        sm.unwrap(H("990290008E08FA855A5D4C50A8ED9100"[:-4] + "9000").replace(b"\xfa", b"\xfb"))
