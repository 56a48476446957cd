"""Parse untrusted BPMN XML: no DOCTYPE, no entities, no network, bounded size."""
from __future__ import annotations

import codecs
import re

from lxml import etree

from .problems import InvalidDiagram, Problem

DEFAULT_MAX_BYTES = 2 * 1024 * 1024

# The XML declaration at the very start of a file, and its encoding pseudo-attribute (XML 1.0, section 4.3.3).
_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(r"""(\sencoding\s*=\s*)(["'])([A-Za-z][A-Za-z0-9._-]*)\2""")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _declared_utf8(text: str) -> str:
    """Text whose XML declaration (if any) names UTF-8, the encoding the text is about to be stored in."""
    end = text.find("?>") if text.startswith("<?xml") else -1
    if end < 0:
        return text
    head = _ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}UTF-8{m.group(2)}", text[:end], count=1)
    return head + text[end:]


def text_to_utf8(text: str) -> bytes:
    """Diagram text (already characters, e.g. from JSON or the editor) as UTF-8 bytes that say they are UTF-8."""
    return _declared_utf8(text.lstrip("\ufeff")).encode("utf-8")


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def utf8_source(data: bytes | str, filename: str) -> bytes:
    """A diagram in any encoding XML allows (a byte-order mark, or the encoding its declaration names; UTF-8
    otherwise) as UTF-8 bytes declaring UTF-8: a faithful transcoding, unchanged when it already was UTF-8.

    Raises InvalidDiagram, in plain words, for an unknown encoding or bytes that are not what the file says."""
    if isinstance(data, str):
        return text_to_utf8(data)
    encoding, body = None, data
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, body = name, data[len(bom):]
            break
    if encoding is None and data[:4] in (b"<\0?\0", b"\0<\0?"):
        encoding = "utf-16-le" if data[:1] == b"<" else "utf-16-be"
    declared = None
    if encoding is None:
        match = _DECLARATION.match(data[:1024])
        found = _ENCODING.search(match.group(0).decode("ascii", "replace")) if match else None
        declared = found.group(3) if found else None
    if declared is not None:
        try:
            encoding = codecs.lookup(declared).name
        except LookupError:
            raise InvalidDiagram([Problem(filename, None, f"The file says its characters are in the encoding '{declared}', which is not one apflow knows.",
                                          "Save the diagram as UTF-8 (the default of every BPMN editor), or declare an encoding such as "
                                          "ISO-8859-1 or windows-1252 that matches how it was saved.")]) from None
    try:
        text = body.decode(encoding or "utf-8")
    except UnicodeDecodeError as err:
        where = f"line {_line_of(body, err.start)}"
        if declared or encoding:
            message = f"The file says its characters are in {declared or encoding}, but the bytes at {where} are not valid {declared or encoding}."
            fix = "Save the file again from its editor, or correct the encoding named in its first line (<?xml ... encoding=\"...\"?>)."
        else:
            message = (f"The file holds characters at {where} that are not UTF-8, and it does not say which encoding it uses "
                       "(XML files without a declared encoding must be UTF-8).")
            fix = ("Save it as UTF-8, or name its encoding in the first line, e.g. <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?> "
                   "or encoding=\"windows-1252\".")
        raise InvalidDiagram([Problem(filename, None, message, fix)]) from None
    if encoding in (None, "utf-8") and body is data:
        return data  # already UTF-8: the very bytes uploaded
    return _declared_utf8(text).encode("utf-8")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=True,
    )


def parse_xml(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """The parsed tree of one diagram file, or InvalidDiagram saying why it was refused."""
    if len(data) > max_bytes:
        raise InvalidDiagram([Problem(
            filename, None,
            f"The file is {len(data):,} bytes, more than the {max_bytes:,} bytes allowed.",
            "Split the diagram into smaller processes joined by call activities, or remove embedded images.",
        )])
    data = utf8_source(data, filename)
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise InvalidDiagram([Problem(
            filename, None,
            "The file declares a DOCTYPE or entities, which BPMN files never need and which can be used to read server files.",
            "Remove the <!DOCTYPE ...> declaration and any <!ENTITY ...> definitions.",
        )])
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser=_parser()))
    except etree.XMLSyntaxError as err:
        raise InvalidDiagram([Problem(
            filename, None, f"The file is not well-formed XML: {err.msg} (line {err.lineno}).",
            "Open the file in the diagram editor or a text editor and correct the XML at that line.",
        )]) from None
    if tree.docinfo.doctype:
        raise InvalidDiagram([Problem(filename, None, "The file declares a DOCTYPE.", "Remove the DOCTYPE declaration.")])
    return tree
