"""Forest-rights certificate numbers compared in one normalized form (pure: no I/O).

The same certificate was registered seven times by typing it differently: spaces, case,
full-width characters, a zero-width space. The key below is what two spellings of one
certificate have in common; the project keeps the certificate as typed for display and this key
in a column with a unique index (ux_project_active_certificate), so a variant is a 409.

The steps, in order:
1. NFKC (Unicode Standard Annex #15): full-width letters, digits and punctuation become ASCII
   (`ＺＪ－１２３` -> `ZJ-123`, `（` -> `(`), the ideographic space becomes a space.
2. Case folding (str.casefold, full Unicode case folding), then NFKC again, as Unicode's
   NFKC_Casefold does: folding can produce text NFKC would rewrite.
3. Every space, line or paragraph separator (Z*), control character (Cc) and format character
   (Cf: zero-width space, joiners, word joiner, byte-order mark, soft hyphen) is removed.
4. Brackets and dashes are unified: any opening bracket (category Ps: （ 〔 【 〖 《 「 [ { ...)
   becomes `(`, any closing one (Pe) `)`; any dash (Pd) and the minus sign `-`; the ideographic
   full stop and comma become `.` and `,`. A certificate is told apart by its characters, not
   by the typography of its brackets (`浙〔2021〕` and `浙(2021)` are one number).
5. NFKC once more: a removed character may have separated a letter from a combining mark
   (`Y¯` is `Y`, a space and a combining macron after step 1), which now compose. The key is
   thereby its own key.
"""
from __future__ import annotations

import unicodedata

from tanhui_shared.errors import Invalid

CERTIFICATE_FIELD = "forest_rights_certificate"

_REMOVED_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_OPENING, _CLOSING, _DASH = "Ps", "Pe", "Pd"
_SAME_AS = {"\u2212": "-", "\u3002": ".", "\u3001": ","}  # minus sign (Sm), 。 and 、


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def certificate_key(certificate: str) -> str:
    """The normalized form two spellings of one certificate share ("" if nothing visible)."""
    folded = _nfkc(_nfkc(certificate).casefold())
    kept = []
    for char in folded:
        category = unicodedata.category(char)
        if category in _REMOVED_CATEGORIES or char.isspace():
            continue
        if category == _OPENING:
            char = "("
        elif category == _CLOSING:
            char = ")"
        elif category == _DASH:
            char = "-"
        kept.append(_SAME_AS.get(char, char))
    return _nfkc("".join(kept))


def checked_certificate_key(certificate: str) -> str:
    """The key, refusing a certificate number with no visible character (422)."""
    key = certificate_key(certificate)
    if not key:
        raise Invalid("the forest-rights certificate number has no visible characters",
                      field=CERTIFICATE_FIELD, code="certificate-empty")
    return key
