"""Which certificates may be trust anchors for passive authentication: CSCAs only.

Doc 9303 part 12 (certificate profile) gives a Country Signing CA certificate, self-signed or
a link certificate issued by the previous CSCA key, a critical basicConstraints with CA true
and a keyUsage with keyCertSign and cRLSign. A Document Signer (or any other end-entity
certificate) dropped into the trust folder must not become an anchor: whoever holds its key
could then issue Document Signers of their own. Such a certificate is left out with a warning
naming the file, and the rest of the folder still loads (it weakens nothing once refused).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cryptography import x509

log = logging.getLogger(__name__)


def csca_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` cannot be a CSCA trust anchor; None when it can."""
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        return f"its extensions cannot be read ({exc})"
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return "no basicConstraints: not a CA certificate"
    if not constraints.value.ca:
        return "basicConstraints CA is false: an end-entity certificate such as a Document Signer"
    if not constraints.critical:
        return "basicConstraints is not critical (Doc 9303-12 requires it)"
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "no keyUsage: a CSCA needs keyCertSign and cRLSign"
    missing = [name for name, ok in (("keyCertSign", usage.key_cert_sign),
                                     ("cRLSign", usage.crl_sign)) if not ok]  # fmt: skip
    if missing:
        return f"keyUsage lacks {' and '.join(missing)}"
    return None


def csca_anchors(
    found: Iterable[tuple[str, x509.Certificate]],
) -> tuple[list[x509.Certificate], list[str]]:
    """The CSCAs among (source, certificate) pairs, and one line per certificate left out
    (each also logged as a warning): ``"SOURCE is not a CSCA certificate (why): not trusted"``."""
    anchors: list[x509.Certificate] = []
    refused: list[str] = []
    for source, certificate in found:
        problem = csca_problem(certificate)
        if problem is None:
            anchors.append(certificate)
            continue
        line = f"{source} is not a CSCA certificate ({problem}): not trusted"
        log.warning("trust store: %s", line)
        refused.append(line)
    return anchors, refused
