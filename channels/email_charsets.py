"""Bytes of a mail into text the way browsers do it: labels read by the WHATWG superset
rule, a declared charset trusted until it is clearly wrong, a guess for bytes without one.

Never fails and never returns lone surrogates: what cannot be decoded becomes U+FFFD.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# The WHATWG Encoding Standard decodes these labels with a superset: mailers that say
# "gb2312" send GBK, "iso-8859-1" means Windows-1252, "shift_jis" carries NEC/IBM
# extensions (cp932), "ks_c_5601-1987" is Unified Hangul Code (cp949).
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "gb18030": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "cseuckr": "cp949",
    "windows-949": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "iso-2022-jp": "iso-2022-jp",
    "csiso2022jp": "iso-2022-jp",
    "iso-2022-jp-ms": "iso-2022-jp",
    "cp50220": "iso-2022-jp",
    "cp50221": "iso-2022-jp",
    "cp50222": "iso-2022-jp",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_SINGLE_BYTE = frozenset({"cp1252", "cp1254", "cp874"})
_CJK = ("gb18030", "cp932", "cp949", "big5hkscs")
PLAUSIBLE = 0.5  # a CJK guess must score at least this (see cjk_score)


def _c1_controls(error: UnicodeError) -> tuple[str, int]:
    # Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined; WHATWG reads them
    # as the C1 controls of the same number, so a Latin-1 text never fails.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(b) for b in error.object[error.start : error.end]), error.end


codecs.register_error("frontdesk-c1", _c1_controls)


def codec_for(label: str | None) -> str | None:
    """The codec to decode a charset label with, or None for a label nobody knows."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    if key in _SUPERSETS:
        return _SUPERSETS[key]
    try:
        info = codecs.lookup(key)
    except (LookupError, ValueError):
        return None
    name = info.name
    if name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSETS.get(name, name)


def valid_text(text: str) -> str:
    """`text` with lone surrogates (which no UTF-8 store accepts) as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")
# Codecs Python knows that are no charset of mail: escapes and transforms.
_NOT_CHARSETS = frozenset(
    {
        "unicode-escape",
        "raw-unicode-escape",
        "undefined",
        "utf-7",
        "punycode",
        "idna",
        "mbcs",
        "oem",
    }
)


def decode(data: bytes, label: str | None) -> str:
    """`data` decoded as declared; guessed when undeclared or clearly mislabelled."""
    if data.isascii() and b"\x1b" not in data:
        return data.decode("ascii")
    codec = codec_for(label)
    if codec is None:
        return decode_guessed(data)
    if codec in _SINGLE_BYTE and _is_utf8(data):
        return data.decode("utf-8")  # "us-ascii"/"iso-8859-1" on UTF-8: a mailer's default label
    try:
        return _decode(data, codec, "strict")
    except UnicodeDecodeError:
        pass
    text = _decode(data, codec, "replace")
    bad = text.count("\ufffd")
    if bad <= max(1, len(text) // 200):
        return text  # a few broken bytes: the label is right, the sender's data is not
    if _is_utf8(data):
        return data.decode("utf-8")
    other = guess(data)
    if other != "cp1252" and other != codec:
        return _decode(data, other, "replace")
    return text


def decode_guessed(data: bytes) -> str:
    """`data` in the charset `guess` picks."""
    return _decode(data, guess(data), "replace")


def guess(data: bytes) -> str:
    """The codec of bytes without a label: UTF-8 when valid, else the best-scoring CJK
    codec that decodes them without error, else Windows-1252."""
    if data.isascii():
        return "iso-2022-jp" if b"\x1b$B" in data or b"\x1b$@" in data else "utf-8"
    if _is_utf8(data):
        return "utf-8"
    best, best_score = "cp1252", PLAUSIBLE
    for codec in _CJK:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = cjk_score(text, codec)
        if score > best_score:  # ties keep the earlier codec
            best, best_score = codec, score
    return best


def cjk_score(text: str, codec: str) -> float:
    """How much `text` looks like real writing in `codec`'s language, per non-ASCII
    character: +2 for one of the language's most frequent characters (or kana for
    Japanese), +1 for a character of the language's basic national set (GB 2312,
    JIS X 0208, KS X 1001 Hangul, Big5 level 1), 0 for other characters, -2 for private
    use, controls and unassigned code points. Bytes of one language read as another
    come out as rare characters, half-width katakana or private-use ones: a low score.
    """
    total = 0
    points = 0
    for char in text:
        if char < "\x80":
            continue
        total += 1
        points += _char_points(char, codec)
    return points / total if total else 0.0


def _char_points(char: str, codec: str) -> int:
    category = unicodedata.category(char)
    if category in ("Co", "Cn", "Cc", "Cs") or char == "\ufffd":
        return -2
    if char in _FREQUENT.get(codec, ""):
        return 2
    if codec == "cp932" and ("\u3041" <= char <= "\u30ff"):
        return 2  # kana: every Japanese sentence has them
    try:
        encoded = char.encode(_BASIC[codec])
    except UnicodeEncodeError:
        return 0
    if codec == "cp932":
        return 1 if len(encoded) == 2 and encoded[0] <= 0x98 else 0  # level 1, not half-width
    if codec == "cp949":
        return 1 if "\uac00" <= char <= "\ud7a3" else 0  # Hangul; hanja are rare in Korean
    if codec == "big5hkscs":
        return 1 if 0xA4 <= encoded[0] <= 0xC6 else 0  # level 1: frequently used hanzi
    return 1


_BASIC = {"gb18030": "gb2312", "cp932": "shift_jis", "cp949": "euc_kr", "big5hkscs": "big5"}
# The most frequent characters of running text (and of names) in each language.
_FREQUENT = {
    "gb18030": "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方多经么去"
    "法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实您请问谢订单货号码费收件客服务王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华",
    "big5hkscs": "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於著下自之年過發後作裡用道行所然家種事成方多經麼去"
    "法學如都同現當沒動面起看定天分還進好小部其些主樣理心她本前開但因只從想實您請問謝訂單貨號碼費收件客服務王李張劉陳楊黃趙吳周徐孫馬朱胡郭何高林羅",
    "cp949": "이다는의에가고하지서을를기로한도리사나수대자인일어그정아시있것해게요보니거내면우전주들라습니까감사합세님문의드립께주문배송확인부탁"
    "김박최강조윤장임오신권황안송류홍문양손백허남심노곽성차구민진채원천방공현함변염여추석선설마길연위표명기반왕금옥육맹제모탁국은편용예경봉",
    "cp932": "日本人一大年中出本会社様月時間分行事者見生用上下前後今回度方名田山川東京都市株式御願申致届注文確認送",
}


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes, codec: str, errors: str) -> str:
    if codec == "iso-2022-jp":
        return decode_iso2022jp(data, errors)
    if codec in _SINGLE_BYTE and errors == "replace":
        errors = "frontdesk-c1"
    try:
        return valid_text(data.decode(codec, errors))
    except LookupError:  # a text codec that cannot decode at all
        return data.decode("utf-8", "replace")


_ESCAPE = re.compile(rb"\x1b(\(B|\(J|\(I|\$@|\$B|\$\(D|\$\(Q|\$\(O)")


def decode_iso2022jp(data: bytes, errors: str = "replace") -> str:
    """ISO-2022-JP as Windows (CP50220) writes it: JIS X 0208 rows read through cp932,
    so NEC's circled digits and Roman numerals (row 13) and IBM's extensions decode;
    Python's iso2022_jp codec refuses them."""
    out: list[str] = []
    mode = b"(B"
    position = 0
    for match in _ESCAPE.finditer(data):
        out.append(_iso2022jp_run(data[position : match.start()], mode, errors))
        mode, position = match.group(1), match.end()
    out.append(_iso2022jp_run(data[position:], mode, errors))
    return "".join(out)


def _iso2022jp_run(run: bytes, mode: bytes, errors: str) -> str:
    if not run:
        return ""
    if mode in (b"(B", b"(J"):
        return run.decode("ascii", errors)
    if mode == b"(I":  # half-width katakana: JIS X 0201 right half, shifted down
        return bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in run).decode("cp932", errors)
    if mode == b"$(D":  # JIS X 0212 (ISO-2022-JP-1) is not in cp932: Python's codec has it
        return (b"\x1b$(D" + run + b"\x1b(B").decode("iso2022_jp_1", errors)
    return "".join(_jis0208_line(piece, errors) for piece in re.split(rb"(\r?\n)", run))


def _jis0208_line(piece: bytes, errors: str) -> str:
    if piece in (b"\n", b"\r\n"):
        return piece.decode("ascii")
    out: list[str] = []
    sjis = bytearray()
    for i in range(0, len(piece), 2):
        pair = piece[i : i + 2]
        if len(pair) == 2 and 0x21 <= pair[0] <= 0x7E and 0x21 <= pair[1] <= 0x7E:
            j1, j2 = pair
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            sjis += bytes(
                (
                    (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0),
                    s2 + 1 if j1 % 2 and s2 >= 0x7F else s2,
                )
            )
            continue
        if errors == "strict":
            raise UnicodeDecodeError("iso-2022-jp", piece, i, i + len(pair), "not a JIS X 0208 pair")
        out += [bytes(sjis).decode("cp932", errors), "\ufffd"]
        sjis.clear()
    out.append(bytes(sjis).decode("cp932", errors))
    return "".join(out)
