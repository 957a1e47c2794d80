"""WSDL in the style of SAP's ``/sap/bc/soap/wsdl11?services=F1,F2`` for RFC-enabled functions.

The shape follows what SAP's generator serves (SAP Help, "SOAP Runtime for RFC"; public WSDLs and
stubs generated from them):

- target namespace ``urn:sap-com:document:sap:rfc:functions`` for types, messages and operations;
- one element per function named like the function (``/`` written as ``_-``), holding imports and
  tables, and one ``FNAME.Response`` element holding exports and tables;
- simple types named after the ABAP type: ``char10``, ``numeric3``, ``date`` (``YYYY-MM-DD``),
  ``cuky5``, ``decimal23.4``;
- a table parameter is ``TABLE_OF_<STRUCT>``: a sequence of ``<item>`` elements;
- document/literal SOAP 1.1 binding with ``soapAction="urn:sap-com:document:sap:rfc:functions:..."``.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .ddic import STRUCTURES, Field, Function, Param

NS = "urn:sap-com:document:sap:rfc:functions"


def element_name(function: str) -> str:
    return function.replace("/", "_-")


def _simple_types(fields: list[Field]) -> list[str]:
    seen: dict[str, str] = {}
    for f in fields:
        name = f.xsd_type
        if name.startswith("xsd:") or name in seen:
            continue
        if f.type in ("C", "K"):
            body = f'<xsd:restriction base="xsd:string"><xsd:maxLength value="{f.length}"/></xsd:restriction>'
        elif f.type == "N":
            body = (f'<xsd:restriction base="xsd:string"><xsd:maxLength value="{f.length}"/>'
                    r'<xsd:pattern value="\d*"/></xsd:restriction>')
        elif f.type == "D":
            body = (r'<xsd:restriction base="xsd:string"><xsd:maxLength value="10"/>'
                    r'<xsd:pattern value="\d\d\d\d-\d\d-\d\d"/></xsd:restriction>')
        elif f.type == "T":
            body = (r'<xsd:restriction base="xsd:string"><xsd:maxLength value="8"/>'
                    r'<xsd:pattern value="\d\d:\d\d:\d\d"/></xsd:restriction>')
        elif f.type == "P":
            body = (f'<xsd:restriction base="xsd:decimal"><xsd:totalDigits value="{f.length}"/>'
                    f'<xsd:fractionDigits value="{f.decimals}"/></xsd:restriction>')
        else:
            raise ValueError(f.type)
        seen[name] = f'<xsd:simpleType name="{name}">{body}</xsd:simpleType>'
    return list(seen.values())


def _type_of(p: Param, table: bool) -> str:
    if p.simple is not None:
        t = p.simple.xsd_type
        return t if t.startswith("xsd:") else f"tns:{t}"
    return f"tns:TABLE_OF_{p.ref}" if table else f"tns:{p.ref}"


def _param(p: Param, table: bool, optional: bool) -> str:
    occurs = ' minOccurs="0"' if optional else ""
    return f'<xsd:element name="{p.name}" type="{_type_of(p, table)}"{occurs}/>'


def wsdl(functions: list[Function], address: str) -> str:
    """The WSDL for ``functions``, with ``address`` as the SOAP endpoint."""
    structs: dict[str, None] = {}
    tables: dict[str, None] = {}
    fields: list[Field] = []
    for fn in functions:
        for p in (*fn.imports, *fn.exports, *fn.tables):
            if p.simple is not None:
                fields.append(p.simple)
            else:
                structs[p.ref] = None
        for p in fn.tables:
            tables[p.ref] = None
    for s in structs:
        fields.extend(STRUCTURES[s])

    types = _simple_types(fields)
    for s in structs:
        members = "".join(
            f'<xsd:element name="{f.name}" type="{f.xsd_type if f.xsd_type.startswith("xsd:") else "tns:" + f.xsd_type}"'
            ' minOccurs="0"/>' for f in STRUCTURES[s])
        types.append(f'<xsd:complexType name="{s}"><xsd:sequence>{members}</xsd:sequence></xsd:complexType>')
    for s in tables:
        types.append(f'<xsd:complexType name="TABLE_OF_{s}"><xsd:sequence><xsd:element name="item" '
                     f'type="tns:{s}" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>')

    elements, messages, operations, bindings = [], [], [], []
    for fn in functions:
        name = element_name(fn.name)
        request = "".join(_param(p, False, p.optional) for p in fn.imports) + \
            "".join(_param(p, True, True) for p in fn.tables)
        response = "".join(_param(p, False, False) for p in fn.exports) + \
            "".join(_param(p, True, False) for p in fn.tables)
        elements.append(f'<xsd:element name="{name}"><xsd:complexType><xsd:all>{request}</xsd:all>'
                        f'</xsd:complexType></xsd:element>')
        elements.append(f'<xsd:element name="{name}.Response"><xsd:complexType><xsd:all>{response}</xsd:all>'
                        f'</xsd:complexType></xsd:element>')
        if fn.exceptions:
            elements.append(f'<xsd:element name="{name}.Exception"><xsd:complexType><xsd:sequence>'
                            '<xsd:element name="Name" type="xsd:string"/><xsd:element name="Text" type="xsd:string" '
                            'minOccurs="0"/></xsd:sequence></xsd:complexType></xsd:element>')
        messages.append(f'<wsdl:message name="{name}Input"><wsdl:part name="parameters" element="tns:{name}"/>'
                        '</wsdl:message>')
        messages.append(f'<wsdl:message name="{name}Output"><wsdl:part name="parameters" '
                        f'element="tns:{name}.Response"/></wsdl:message>')
        fault_op = fault_bind = ""
        if fn.exceptions:
            messages.append(f'<wsdl:message name="{name}Exception"><wsdl:part name="{name}.Exception" '
                            f'element="tns:{name}.Exception"/></wsdl:message>')
            fault_op = f'<wsdl:fault name="{name}.Exception" message="tns:{name}Exception"/>'
            fault_bind = f'<wsdl:fault name="{name}.Exception"><soap:fault name="{name}.Exception" use="literal"/></wsdl:fault>'
        operations.append(f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}Input"/>'
                          f'<wsdl:output message="tns:{name}Output"/>{fault_op}</wsdl:operation>')
        bindings.append(f'<wsdl:operation name="{name}"><soap:operation soapAction="{NS}:{name}" style="document"/>'
                        '<wsdl:input><soap:body use="literal"/></wsdl:input>'
                        f'<wsdl:output><soap:body use="literal"/></wsdl:output>{fault_bind}</wsdl:operation>')
    service = element_name(functions[0].name) if len(functions) == 1 else "RFC"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<wsdl:definitions targetNamespace="{NS}" xmlns:tns="{NS}" xmlns:s0="{NS}" '
        'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" xmlns:mime="http://schemas.xmlsoap.org/wsdl/mime/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<wsdl:types><xsd:schema attributeFormDefault="qualified" elementFormDefault="unqualified" '
        f'targetNamespace="{NS}">{"".join(types)}{"".join(elements)}</xsd:schema></wsdl:types>'
        f'{"".join(messages)}'
        f'<wsdl:portType name="{service}PortType">{"".join(operations)}</wsdl:portType>'
        f'<wsdl:binding name="{service}Binding" type="tns:{service}PortType">'
        '<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
        f'{"".join(bindings)}</wsdl:binding>'
        f'<wsdl:service name="{service}Service"><wsdl:port name="{service}PortType" binding="tns:{service}Binding">'
        f'<soap:address location={quoteattr(address)}/></wsdl:port></wsdl:service>'
        '</wsdl:definitions>'
    )
