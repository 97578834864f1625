"""EF.CardSecurity (ICAO Doc 9303 part 11, 4.4.3.5.2 and 9.2): the SecurityInfos of a PACE
chip, signed by the Document Signer like EF.SOD, in the master file (FID 011D, SFI 1D).

PACE-CAM proves that the chip holds the private key of a ChipAuthenticationPublicKeyInfo;
the reader takes that key from EF.CardSecurity, whose signature and signer chain it checks
first (passive authentication of the file), so an unsigned key can never pass. The PACE
protocol that ran must be among the signed PACEInfos too: EF.CardAccess is unsigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gate.errors import DocumentError, SecurityError
from gate.icao import chip_auth
from gate.icao.access import AccessInfo
from gate.icao.chip_auth import ChipAuthResult
from gate.icao.pa import TrustStore, verify_signer
from gate.icao.pace_groups import standard_group
from gate.icao.security_infos import (
    ID_PK_ECDH,
    CaPublicKey,
    PaceInfo,
    SecurityInfo,
    encode_security_infos,
    parse_security_infos,
)
from gate.icao.sod import SECURITY_OBJECT_OID, build_signed_data, parse_signed_data
from gate.types import PassiveAuthStatus

FID_CARD_SECURITY = 0x011D  # in the master file; EF.SOD has the same FID in the application
NAME = "EF.CardSecurity"
CAM = "PACE-CAM"


def build_card_security(
    infos: list[SecurityInfo],
    *,
    sign: Any,
    signature_algorithm: str,
    ds_certificate_der: bytes,
    signing_time: datetime,
) -> bytes:
    """EF.CardSecurity: a ContentInfo with a SignedData over the SET OF SecurityInfo."""
    return build_signed_data(
        encode_security_infos(infos),
        SECURITY_OBJECT_OID,
        sign=sign,
        signature_algorithm=signature_algorithm,
        ds_certificate_der=ds_certificate_der,
        signing_time=signing_time,
    )


@dataclass(frozen=True)
class CardSecurityCheck:
    """Passive authentication of EF.CardSecurity, and its SecurityInfos."""

    status: PassiveAuthStatus
    reason: str
    infos: tuple[SecurityInfo, ...] = ()


def check_card_security(
    data: bytes | None,
    trust: TrustStore | None,
    *,
    issuing_state: str,
    now: datetime | None = None,
) -> CardSecurityCheck:
    """The file's signature and signer chain, as passive authentication checks EF.SOD's."""
    if data is None:
        return CardSecurityCheck("invalid", f"{NAME} missing from the master file")
    try:
        signed = parse_signed_data(data, SECURITY_OBJECT_OID, NAME)
        infos = parse_security_infos(signed.econtent, NAME)
    except DocumentError as exc:
        return CardSecurityCheck("invalid", f"{NAME} malformed: {exc}")
    status, reason, *_ = verify_signer(
        signed,
        trust,
        issuing_state=issuing_state,
        now=now or datetime.now(timezone.utc),
        where=NAME,
        content_type=SECURITY_OBJECT_OID,
    )
    return CardSecurityCheck(status, reason, tuple(infos))


def verify_cam(check: CardSecurityCheck, access: AccessInfo) -> ChipAuthResult:
    """PACE-CAM against the ChipAuthenticationPublicKeyInfo of a checked EF.CardSecurity."""
    if access.cam is None or access.parameter_id is None:
        return ChipAuthResult("invalid", "PACE-CAM did not run", CAM)
    if check.status not in ("valid", "not_checked"):
        return ChipAuthResult("invalid", f"{NAME}: {check.reason}", CAM)
    signed_pace = [
        info
        for info in check.infos
        if isinstance(info, PaceInfo)
        and (info.mapping, info.cipher, info.parameter_id)
        == (access.mapping, access.cipher, access.parameter_id)
    ]
    if not signed_pace:
        return ChipAuthResult(
            "invalid", f"the PACE protocol of EF.CardAccess is not among {NAME}'s", CAM
        )
    keys = [i for i in check.infos if isinstance(i, CaPublicKey) and i.oid == ID_PK_ECDH]
    if not keys:
        return ChipAuthResult("invalid", f"{NAME} holds no ECDH Chip Authentication key", CAM)
    try:
        static = chip_auth.load_chip_key(keys[0], where=NAME)
    except SecurityError as exc:
        return ChipAuthResult("invalid", f"PACE-CAM: {exc}", CAM)
    ca_ic, mapping_key = access.cam
    result = chip_auth.verify_cam(
        static, ca_ic, mapping_key, standard_group(access.parameter_id), source=NAME
    )
    if result.status == "valid" and check.status == "not_checked":
        return ChipAuthResult("valid", f"{result.reason} ({check.reason})", CAM)
    return result
