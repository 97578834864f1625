"""PACE generic mapping against the worked examples of ICAO Doc 9303 part 11, appendix G.

G.1: ECDH on brainpoolP256r1, G.2: DH on the 1024-bit MODP group; both with the MRZ
password of document T22000129, born 640812, expiring 101031, and AES-128.
"""

from __future__ import annotations

import pytest

from gate.errors import SecurityError
from gate.icao import pace
from gate.icao.apdu import Command, Response
from gate.icao.mrz import mrz_information
from gate.icao.pace_groups import standard_group
from gate.icao.security_infos import PaceInfo, parse_card_access


def H(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def I(text: str) -> int:  # noqa: E743
    return int(text.replace(" ", ""), 16)


PASSWORD = pace.PacePassword.from_mrz_information(mrz_information("T22000129", "640812", "101031"))
ECDH_INFO = PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13)
DH_INFO = PaceInfo("0.4.0.127.0.7.2.2.4.1.2", 2, 0)

# G.1 (ECDH, brainpoolP256r1)
EC_Z = H("95A3A016 522EE98D 01E76CB6 B98B42C3")
EC_S = H("3F00C4D3 9D153F2B 2A214A07 8D899B22")
EC_TERMINAL_MAP = I("7F4EF07B 9EA82FD7 8AD689B3 8D0BC78C F21F249D 953BC46F 4C6E1925 9C010F99")
EC_TERMINAL_MAP_PUB = H(
    "04 7ACF3EFC 982EC455 65A4B155 129EFBC7 4650DCBF A6362D89 6FC70262 E0C2CC5E"
    "544552DC B6725218 799115B5 5C9BAA6D 9F6BC3A9 618E70C2 5AF71777 A9C4922D"
)
EC_CHIP_MAP = I("498FF497 56F2DC15 87840041 839A8598 2BE7761D 14715FB0 91EFA7BC E9058560")
EC_CHIP_MAP_PUB = H(
    "04 824FBA91 C9CBE26B EF53A0EB E7342A3B F178CEA9 F45DE0B7 0AA60165 1FBA3F57"
    "30D8C879 AAA9C9F7 3991E61B 58F4D52E B87A0A0C 709A49DC 63719363 CCD13C54"
)
EC_H = H(
    "04 60332EF2 450B5D24 7EF6D386 8397D398 852ED6E8 CAF6FFEE F6BF85CA 57057FD5"
    "0840CA74 15BAF3E4 3BD414D3 5AA4608B 93A2CAF3 A4E3EA4E 82C9C13D 03EB7181"
)
EC_MAPPED_G = H(
    "04 8CED63C9 1426D4F0 EB1435E7 CB1D74A4 6723A0AF 21C89634 F65A9AE8 7A9265E2"
    "8C879506 743F8611 AC33645C 5B985C80 B5F09A0B 83407C1B 6A4D857A E76FE522"
)
EC_TERMINAL_EPH = I("A73FB703 AC1436A1 8E0CFA5A BB3F7BEC 7A070E7A 6788486B EE230C4A 22762595")
EC_TERMINAL_EPH_PUB = H(
    "04 2DB7A64C 0355044E C9DF1905 14C625CB A2CEA487 54887122 F3A5EF0D 5EDD301C"
    "3556F3B3 B186DF10 B857B58F 6A7EB80F 20BA5DC7 BE1D43D9 BF850149 FBB36462"
)
EC_CHIP_EPH = I("107CF586 96EF6155 053340FD 633392BA 81909DF7 B9706F22 6F32086C 7AFF974A")
EC_CHIP_EPH_PUB = H(
    "04 9E880F84 2905B8B3 181F7AF7 CAA9F0EF B743847F 44A306D2 D28C1D9E C65DF6DB"
    "7764B222 77A2EDDC 3C265A9F 018F9CB8 52E111B7 68B32690 4B59A019 3776F094"
)
EC_SECRET = H("28768D20 701247DA E81804C9 E780EDE5 82A9996D B4A31502 0B273319 7DB84925")
EC_KS_ENC = H("F5F0E35C 0D7161EE 6724EE51 3A0D9A7F")
EC_KS_MAC = H("FE251C78 58B356B2 4514B3BD 5F4297D1")
EC_T_IFD = H("C2B0BD78 D94BA866")
EC_T_IC = H("3ABB9674 BCE93C08")


def test_password_key_and_nonce() -> None:
    kpi = pace.password_key(PASSWORD, "AES-128")
    assert kpi == H("89DED1B2 6624EC1E 634C1989 302849DD")
    assert pace.decrypt_nonce(kpi, EC_Z, "AES-128") == EC_S
    assert pace.encrypt_nonce(kpi, EC_S, "AES-128") == EC_Z


def test_ecdh_generic_mapping_step_by_step() -> None:
    group = standard_group(13)
    assert group.public_key(EC_TERMINAL_MAP) == EC_TERMINAL_MAP_PUB
    assert group.public_key(EC_CHIP_MAP) == EC_CHIP_MAP_PUB
    assert group.shared_element(EC_TERMINAL_MAP, EC_CHIP_MAP_PUB, "t") == EC_H
    assert group.shared_element(EC_CHIP_MAP, EC_TERMINAL_MAP_PUB, "t") == EC_H
    mapped = group.mapped(EC_S, EC_H)
    assert mapped.encode(mapped.generator) == EC_MAPPED_G
    assert mapped.public_key(EC_TERMINAL_EPH) == EC_TERMINAL_EPH_PUB
    assert mapped.public_key(EC_CHIP_EPH) == EC_CHIP_EPH_PUB
    secret = mapped.shared_secret(EC_TERMINAL_EPH, EC_CHIP_EPH_PUB, "t")
    assert secret == EC_SECRET == mapped.shared_secret(EC_CHIP_EPH, EC_TERMINAL_EPH_PUB, "t")
    keys = pace.session_keys(secret, "AES-128")
    assert (keys.ks_enc, keys.ks_mac, keys.ssc) == (EC_KS_ENC, EC_KS_MAC, 0)
    assert pace.token_input(ECDH_INFO.oid, mapped, EC_CHIP_EPH_PUB) == H(
        "7F494F06 0A04007F 00070202 04020286 41049E88 0F842905 B8B3181F 7AF7CAA9 F0EFB743"
        "847F44A3 06D2D28C 1D9EC65D F6DB7764 B22277A2 EDDC3C26 5A9F018F 9CB852E1 11B768B3"
        "26904B59 A0193776 F094"
    )
    assert pace.auth_token(EC_KS_MAC, "AES-128", ECDH_INFO.oid, mapped, EC_CHIP_EPH_PUB) == (
        EC_T_IFD
    )
    assert pace.auth_token(EC_KS_MAC, "AES-128", ECDH_INFO.oid, mapped, EC_TERMINAL_EPH_PUB) == (
        EC_T_IC
    )


# The G.1 exchange as APDUs (command -> response), as recorded in public PACE test suites.
EC_TRACE = [
    ("0022C1A40F800A04007F00070202040202830101", "9000"),
    ("10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"),
    ("10860000457C438141" + EC_TERMINAL_MAP_PUB.hex() + "00",
     "7C438241" + EC_CHIP_MAP_PUB.hex() + "9000"),
    ("10860000457C438341" + EC_TERMINAL_EPH_PUB.hex() + "00",
     "7C438441" + EC_CHIP_EPH_PUB.hex() + "9000"),
    ("008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"),
]  # fmt: skip


class _Replay:
    def __init__(self, trace: list[tuple[str, str]]) -> None:
        self.trace = [(H(c), H(r)) for c, r in trace]

    def __call__(self, command: Command) -> Response:
        expected, answer = self.trace.pop(0)
        assert command.encode().hex().upper() == expected.hex().upper()
        return Response.parse(answer)


def test_ecdh_pace_apdus_byte_for_byte() -> None:
    replay = _Replay(list(EC_TRACE))
    outcome = pace.run_pace(
        replay, ECDH_INFO, PASSWORD, private_keys=(EC_TERMINAL_MAP, EC_TERMINAL_EPH)
    )
    assert not replay.trace
    assert (outcome.keys.ks_enc, outcome.keys.ks_mac, outcome.keys.cipher) == (
        EC_KS_ENC,
        EC_KS_MAC,
        "AES-128",
    )


def test_wrong_chip_token_fails_pace() -> None:
    trace = list(EC_TRACE)
    trace[-1] = (trace[-1][0], "7C0A8608" + "00" * 8 + "9000")
    with pytest.raises(SecurityError, match="PACE failed: the chip's authentication token"):
        pace.run_pace(
            _Replay(trace), ECDH_INFO, PASSWORD, private_keys=(EC_TERMINAL_MAP, EC_TERMINAL_EPH)
        )


def test_wrong_password_answer_names_the_password() -> None:
    trace = list(EC_TRACE)
    trace[-1] = (trace[-1][0], "6300")
    with pytest.raises(SecurityError, match="PACE failed: .*wrong MRZ or CAN"):
        pace.run_pace(
            _Replay(trace), ECDH_INFO, PASSWORD, private_keys=(EC_TERMINAL_MAP, EC_TERMINAL_EPH)
        )


def test_card_access_of_the_example() -> None:
    infos = parse_card_access(H("31143012060A04007F0007020204020202010202010D"))
    assert infos == [ECDH_INFO]
    assert (infos[0].key_agreement, infos[0].mapping, infos[0].cipher) == ("ECDH", "GM", "AES-128")


# G.2 (DH, 1024-bit MODP group with 160-bit subgroup)
DH_Z = H("854D8DF5 827FA685 2D1A4FA7 01CDDDCA")
DH_S = H("FA5B7E3E 49753A0D B9178B7B 9BD898C8")
DH_TERMINAL_MAP = I("5265030F 751F4AD1 8B08AC56 5FC7AC95 2E41618D")
DH_TERMINAL_MAP_PUB = H(
    "23FB3749 EA030D2A 25B278D2 A562047A DE3F01B7 4F17A154 02CB7352 CA7D2B3E"
    "B71C343D B13D1DEB CE9A3666 DBCFC920 B49174A6 02CB4796 5CAA73DC 702489A4"
    "4D41DB91 4DE9613D C5E98C94 160551C0 DF86274B 9359BC04 90D01B03 AD54022D"
    "CB4F57FA D6322497 D7A1E28D 46710F46 1AFE710F BBBC5F8B A166F431 1975EC6C"
)
DH_CHIP_MAP_PUB = H(
    "78879F57 225AA808 0D52ED0F C890A4B2 5336F699 AA89A2D3 A189654A F70729E6"
    "23EA5738 B26381E4 DA19E004 706FACE7 B235C2DB F2F38748 312F3C98 C2DD4882"
    "A41947B3 24AA1259 AC22579D B93F7085 655AF308 89DBB845 D9E6783F E42C9F24"
    "49400306 254C8AE8 EE9DD812 A804C0B6 6E8CAFC1 4F84D825 8950A91B 44126EE6"
)
DH_H = H(
    "5BABEBEF 5B74E5BA 94B5C063 FDA15F1F 1CDE9487 3EE0A5D3 A2FCAB49 F258D07F"
    "544F13CB 66658C3A FEE9E727 389BE3F6 CBBBD321 28A8C21D D6EEA3CF 7091CDDF"
    "B08B8D00 7D40318D CCA4FFBF 51208790 FB4BD111 E5A968ED 6B6F08B2 6CA87C41"
    "0B3CE0C3 10CE104E ABD16629 AA48620C 1279270C B0750C0D 37C57FFF E302AE7F"
)
DH_MAPPED_G = I(
    "7C9CBFE9 8F9FBDDA 8D143506 FA7D9306 F4CB17E3 C71707AF F5E1C1A1 23702496"
    "84D64EE3 7AF44B8D BD9D45BF 6023919C BAA027AB 97ACC771 666C8E98 FF483301"
    "BFA4872D EDE9034E DFACB708 14166B7F 36067682 9B826BEA 57291B5A D69FBC84"
    "EF1E7790 32A30580 3F743417 93E86974 2D401325 B37EE856 5FFCDEE6 18342DC5"
)
DH_TERMINAL_EPH = I("89CCD99B 0E8D3B1F 11E1296D CA68EC53 411CF2CA")
DH_TERMINAL_EPH_PUB = H(
    "907D89E2 D425A178 AA81AF4A 7774EC8E 388C115C AE67031E 85EECE52 0BD91155"
    "1B9AE4D0 4369F29A 02626C86 FBC6747C C7BC3526 45B6161A 2A42D44E DA80A08F"
    "A8D61B76 D3A154AD 8A5A5178 6B0BC071 47057871 A922212C 5F67F431 73172236"
    "B7747D16 71E6D692 A3C7D40A 0C3C5CE3 97545D01 5C175EB5 130551ED BC2EE5D4"
)
DH_CHIP_EPH_PUB = H(
    "075693D9 AE941877 573E634B 6E644F8E 60AF17A0 076B8B12 3D920107 4D36152B"
    "D8B3A213 F53820C4 2ADC79AB 5D0AEEC3 AEFB9139 4DA476BD 97B9B14D 0A65C1FC"
    "71A0E019 CB08AF55 E1F72900 5FBA7E3F A5DC4189 9238A250 767A6D46 DB974064"
    "386CD456 743585F8 E5D90CC8 B4004B1F 6D866C79 CE0584E4 9687FF61 BC29AEA1"
)
DH_SECRET = H(
    "6BABC7B3 A72BCD7E A385E4C6 2DB2625B D8613B24 149E146A 629311C4 CA6698E3"
    "8B834B6A 9E9CD718 4BA8834A FF5043D4 36950C4C 1E783236 7C10CB8C 314D40E5"
    "990B0DF7 013E64B4 549E2270 923D06F0 8CFF6BD3 E977DDE6 ABE4C31D 55C0FA2E"
    "465E553E 77BDF75E 3193D383 4FC26E8E B1EE2FA1 E4FC97C1 8C3F6CFF FE2607FD"
)


def test_dh_generic_mapping_step_by_step() -> None:
    kpi = pace.password_key(PASSWORD, "AES-128")
    assert pace.decrypt_nonce(kpi, DH_Z, "AES-128") == DH_S
    group = standard_group(0)
    assert group.public_key(DH_TERMINAL_MAP) == DH_TERMINAL_MAP_PUB
    assert group.shared_element(DH_TERMINAL_MAP, DH_CHIP_MAP_PUB, "t") == DH_H
    mapped = group.mapped(DH_S, DH_H)
    assert mapped.g == DH_MAPPED_G
    assert mapped.public_key(DH_TERMINAL_EPH) == DH_TERMINAL_EPH_PUB
    secret = mapped.shared_secret(DH_TERMINAL_EPH, DH_CHIP_EPH_PUB, "t")
    assert secret == DH_SECRET
    keys = pace.session_keys(secret, "AES-128")
    assert keys.ks_enc == H("2F7F46AD CC9E7E52 1B45D192 FAFA9126")
    assert keys.ks_mac == H("805A1D27 D45A5116 F73C5446 9462B7D8")
    token_ifd = pace.auth_token(keys.ks_mac, "AES-128", DH_INFO.oid, mapped, DH_CHIP_EPH_PUB)
    token_ic = pace.auth_token(keys.ks_mac, "AES-128", DH_INFO.oid, mapped, DH_TERMINAL_EPH_PUB)
    assert token_ifd == H("B46DD9BD 4D98381F")
    assert token_ic == H("917F37B5 C0E6D8D1")


def test_points_off_the_curve_are_refused() -> None:
    group = standard_group(13)
    bad = bytearray(EC_CHIP_MAP_PUB)
    bad[-1] ^= 1
    with pytest.raises(SecurityError, match="not on brainpoolP256r1"):
        group.shared_element(EC_TERMINAL_MAP, bytes(bad), "chip mapping key")
    with pytest.raises(SecurityError, match="not a value|outside"):
        standard_group(0).shared_element(DH_TERMINAL_MAP, b"\x01", "chip mapping key")


def test_unknown_parameter_id_and_integrated_mapping_are_named() -> None:
    with pytest.raises(SecurityError, match="parameter ID 99"):
        pace.choose([PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 99)])
    with pytest.raises(SecurityError, match="IM mapping; egate supports generic mapping"):
        pace.choose([PaceInfo("0.4.0.127.0.7.2.2.4.4.2", 2, 13)])


def test_virtual_chip_answers_the_example_byte_for_byte() -> None:
    from drivers.chip.chip_auth_side import ChipPaceKeys
    from drivers.chip.emulator import FID_CARD_ACCESS, VirtualPassport

    chip = VirtualPassport(
        {FID_CARD_ACCESS: H("31143012060A04007F0007020204020202010202010D")},
        mrz_information("T22000129", "640812", "101031"),
        pace_keys=ChipPaceKeys(EC_S, EC_CHIP_MAP, EC_CHIP_EPH),
    )
    for command, response in EC_TRACE:
        assert chip.transmit(H(command)).hex().upper() == response.upper()


# A real passport's PACE-GM with 3DES (ECDH on brainpoolP256r1), as quoted in public PACE
# test suites: the 3DES nonce decryption, key derivation and retail-MAC tokens.
TDES_TRACE = [
    ("0022C1A40F800A04007F00070202040201830101", "9000"),
    ("10860000027C0000", "7C128010B88382812290017AF1CC906FF00E7F4D9000"),
    ("10860000457C43814104"
     "7706B2B6246AB4612229B8A11212DDBA7FEA0568C9C0975DEE22C0E3DD3A3F03"
     "21E8AFEE836E373B570D24000D56FB195104D486E63321FF8C819DD5EE018DCB00",
     "7C43824104"
     "780B4EDEC9B926F9F964FAD826D9990A667608D96BA7B397AE8609B6533E0D03"
     "6D148365DDF4E5FF6611C2B62AA17FC9899F327BC929DB543E7ABD0EE724E4BE9000"),
    ("10860000457C43834104"
     "507A0156EFAE8FB8ACC519036C0B2FE0393C878744C7F91878EE4E07A41412BA"
     "5C0753D68A44A91E9F57F3F992AB689E6C2065D3B2A27C3658A4FD632931EE3800",
     "7C43844104"
     "2DBAF62E6FDFB31EB66F206493B9E7721586F0E5C93754D7BD5A884CA251EE4D"
     "720AB539A60561BC46812FA289B58AC69F0C6E32ADBAF7241049A31211F80F5B9000"),
    ("008600000C7C0A85088D7C617D43EFE09E00", "7C0A8608CB57047C809079F69000"),
]  # fmt: skip


def test_3des_pace_apdus_byte_for_byte() -> None:
    (info,) = parse_card_access(H("31143012060A04007F0007020204020102010202010D"))
    assert info.cipher == "3DES"
    password = pace.PacePassword.from_mrz_information(
        mrz_information("LM277954", "781214", "271115")
    )
    replay = _Replay(TDES_TRACE)
    outcome = pace.run_pace(
        replay,
        info,
        password,
        private_keys=(
            I("2808272C0EC20E01A3450030EF32855E9FEB5CB17719E985389B1CF47609E69F"),
            I("8F89449052DF6C7983750C7B042C3CEA12B36819174424C7CD28153F7B70B402"),
        ),
    )
    assert not replay.trace
    assert outcome.keys.ks_enc == H("430E4C8C38DFEFAED92067B919A897F8")
    assert outcome.keys.ks_mac == H("C1BC1F075797B970B5A45E64A764B0CB")
    assert (outcome.keys.cipher, outcome.keys.ssc) == ("3DES", 0)
