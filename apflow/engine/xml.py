"""Parse untrusted BPMN XML: no DOCTYPE, no entities, no network, bounded size."""
from __future__ import annotations

from lxml import etree

from .problems import InvalidDiagram, Problem

DEFAULT_MAX_BYTES = 2 * 1024 * 1024


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
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise InvalidDiagram([Problem(
            filename, None,
            f"The file is {len(data):,} bytes, more than the {max_bytes:,} bytes allowed.",
            "Split the diagram into smaller processes joined by call activities, or remove embedded images.",
        )])
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
