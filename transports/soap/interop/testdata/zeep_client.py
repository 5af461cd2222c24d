"""Drive Herald's WS-Eventing ports with zeep, from the published WSDL.

Run by interop_test.go with Debian's python3-zeep:

    /usr/bin/python3 zeep_client.py --wsdl URL --notify-to URL --topic TOPIC --soap 1.1|1.2 [--auth basic|wsse]

Every step prints one JSON line on stdout: {"step": ..., "ok": true, ...},
or "ok": false with "error" (and the client exits 1). After each step but the
last the client waits for one line on stdin, so that the test can check
Herald's state before the next step changes it; after "subscribe" the test
also publishes an event and checks that the NotifyTo sink got it.

With --auth the client authenticates every operation with the API key in
the environment variable HERALD_INTEROP_KEY: basic sets HTTP Basic
(requests.auth.HTTPBasicAuth, any user name, the key as the password) on the
requests.Session that zeep.Transport uses; wsse gives zeep a
zeep.wsse.username.UsernameToken (any user name, the key as the password;
zeep's default is PasswordText), with no HTTP credential. With --auth the
client also makes the Subscribe once without a credential, as step
"anonymous" right after "wsdl", and reports how that failed: kind "fault"
(zeep.exceptions.Fault) or "transport" (zeep.exceptions.TransportError).
Every step but "wsdl" and "done" reports what its last request carried
(http_auth: the scheme of its Authorization header; wsse_password_type: the
Type of its wsse:UsernameToken/wsse:Password) and how Herald answered it
(status; challenge: WWW-Authenticate), read off the requests.Session.

zeep adds WS-Addressing 1.0 headers (Action, MessageID, To) by itself to
every operation whose WSDL input carries wsam:Action / wsaw:Action.
HERALD_INTEROP_DUMP=1 prints every message sent and received on stderr.
"""

import argparse
import json
import os
import sys

from lxml import etree

import requests
from requests.auth import HTTPBasicAuth

import zeep
from zeep import xsd
from zeep.wsse.username import UsernameToken
from zeep.plugins import HistoryPlugin, Plugin
from zeep.transports import Transport

WSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
TNS = "http://webservice.cloud42.jw.de"
TOPIC_DIALECT = "http://herald-eventing.github.io/ns/2026/herald/dialects/topic"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

step = "start"


# wire reads the last HTTP exchange off the requests.Session (a response
# hook); emit adds it to every step after "wsdl".
wire = None


class Wire:
    """Records the last response (and so its request) of a session."""

    def __init__(self, session):
        self.last = None
        session.hooks["response"].append(self.hook)

    def hook(self, response, *args, **kwargs):
        self.last = response

    def facts(self):
        r = self.last
        if r is None:
            return {}
        scheme = (r.request.headers.get("Authorization") or "").split(" ", 1)[0]
        password_type = ""
        body = r.request.body
        if body:
            try:
                sent = etree.fromstring(body.encode() if isinstance(body, str) else body)
            except etree.XMLSyntaxError:
                sent = None
            if sent is not None:
                for pw in sent.iter("{%s}Password" % WSSE_NS):
                    if pw.getparent().tag == "{%s}UsernameToken" % WSSE_NS:
                        password_type = pw.get("Type", "(none)")
        return {
            "status": str(r.status_code),
            "challenge": r.headers.get("WWW-Authenticate", ""),
            "http_auth": scheme,
            "wsse_password_type": password_type,
        }


def emit(step, ok=True, **kv):
    line = {"client": "zeep", "step": step, "ok": ok}
    if ok and wire is not None and step not in ("wsdl", "done"):
        line.update(wire.facts())
    line.update(kv)
    print(json.dumps(line), flush=True)


def go_on():
    """Waits for the test's go-ahead after a step."""
    if not sys.stdin.readline():
        raise RuntimeError("stdin closed: the test gave no go-ahead after step %s" % step)


class FilterText(Plugin):
    """Writes the filter expression into wse:Filter.

    wse:FilterType is mixed content (the expression is the element's text);
    zeep ignores mixed="true" and cannot set an element's text alongside
    xs:any, so the text goes in on the way out.
    """

    def __init__(self, text):
        self.text = text

    def egress(self, envelope, http_headers, operation, binding_options):
        for f in envelope.iter("{%s}Filter" % WSE):
            f.text = self.text
        return envelope, http_headers


class Dump(Plugin):
    def egress(self, envelope, http_headers, operation, binding_options):
        sys.stderr.write("--> %s\n%s\n" % (binding_options.get("address"), etree.tostring(envelope, pretty_print=True).decode()))
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        sys.stderr.write("<--\n%s\n" % etree.tostring(envelope, pretty_print=True).decode())
        return envelope, http_headers


def clark(qname_text, context):
    """Resolves a prefixed QName found as text in context's subtree."""
    if qname_text is None:
        return ""
    qname_text = qname_text.strip()
    if context is not None:
        for el in context.iter():
            if isinstance(el.tag, str) and (el.text or "").strip() == qname_text:
                prefix, _, local = qname_text.rpartition(":")
                ns = el.nsmap.get(prefix or None)
                if ns:
                    return "{%s}%s" % (ns, local)
    return qname_text


def fault_line(step, e, history, **kv):
    received = None
    try:
        received = history.last_received["envelope"]
    except (IndexError, TypeError):
        pass
    subcode = ""
    if e.subcodes:
        sc = e.subcodes[0]
        subcode = sc.text if isinstance(sc, etree.QName) else clark(str(sc), received)
    emit(step, code=clark(e.code, received), subcode=subcode, reason=e.message, **kv)


def main():
    global step, wire
    p = argparse.ArgumentParser()
    p.add_argument("--wsdl", required=True)
    p.add_argument("--notify-to", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--soap", default="1.2", choices=["1.1", "1.2"])
    p.add_argument("--auth", choices=["basic", "wsse"])
    a = p.parse_args()
    key = os.environ.get("HERALD_INTEROP_KEY", "")
    if a.auth and not key:
        raise RuntimeError("--auth %s needs the key in HERALD_INTEROP_KEY" % a.auth)
    suffix = "Soap12" if a.soap == "1.2" else "Soap11"

    history = HistoryPlugin()
    plugins = [FilterText(a.topic), history]
    if os.environ.get("HERALD_INTEROP_DUMP"):
        plugins.append(Dump())

    session = requests.Session()
    wire = Wire(session)
    wsse = None
    if a.auth == "basic":
        session.auth = HTTPBasicAuth("any-user", key)
    elif a.auth == "wsse":
        wsse = UsernameToken("any-user", key)

    step = "wsdl"
    transport = Transport(session=session, timeout=30, operation_timeout=30)
    client = zeep.Client(a.wsdl, plugins=plugins, transport=transport, wsse=wsse)
    source = client.bind("HeraldService", "EventSource%sPort" % suffix)
    emit(step, port="EventSource%sPort" % suffix, address=source._binding_options["address"])
    go_on()

    NotifyTo = client.get_element("{%s}NotifyTo" % WSE)
    DeliveryType = client.get_type("{%s}DeliveryType" % WSE)
    FilterType = client.get_type("{%s}FilterType" % WSE)

    def subscribe(expires):
        notify_to = xsd.AnyObject(NotifyTo, NotifyTo(Address=a.notify_to))
        return source.SubscribeOp(
            Delivery=DeliveryType(_value_1=[notify_to]),
            Expires=expires,
            Filter=FilterType(Dialect=TOPIC_DIALECT),
        )

    if a.auth:
        # The same Subscribe without a credential: no HTTP auth, no wsse.
        step = "anonymous"
        saved = session.auth, client.wsse
        session.auth, client.wsse = None, None
        try:
            r = subscribe("PT10M")
            raise RuntimeError("Subscribe without a credential answered: %r" % (r,))
        except zeep.exceptions.Fault as e:
            fault_line(step, e, history, kind="fault")
        except zeep.exceptions.TransportError as e:
            emit(step, kind="transport", reason=str(e))
        finally:
            session.auth, client.wsse = saved
        go_on()

    step = "subscribe"
    r = subscribe("PT10M")
    sm = r.SubscriptionManager
    manager = sm.Address._value_1
    # wse:Identifier is a global element of the schema, so zeep gives the
    # reference parameter as its value.
    params = sm.ReferenceParameters._value_1 if sm.ReferenceParameters is not None else []
    identifier = None
    for v in params or []:
        if isinstance(v, str):
            identifier = v.strip()
        elif hasattr(v, "tag") and v.tag == "{%s}Identifier" % WSE:
            identifier = (v.text or "").strip()
    if not identifier:
        raise RuntimeError("the SubscriptionManager EPR has no wse:Identifier reference parameter: %r" % (sm,))
    emit(step, manager=manager, identifier=identifier, expires=str(r.Expires))

    go_on()  # the test publishes and checks its sink meanwhile

    mgr = client.create_service("{%s}SubscriptionManager%sBinding" % (TNS, suffix), manager)
    headers = {"Identifier": identifier}

    step = "getstatus"
    r = mgr.GetStatusOp(_soapheaders=headers)
    emit(step, expires=str(r.Expires))
    go_on()

    step = "renew"
    r = mgr.RenewOp(Expires="PT20M", _soapheaders=headers)
    emit(step, expires=str(r.Expires))
    go_on()

    step = "unsubscribe"
    mgr.UnsubscribeOp(_soapheaders=headers)
    emit(step)
    go_on()

    step = "fault-unknown"
    try:
        r = mgr.GetStatusOp(_soapheaders=headers)
        raise RuntimeError("GetStatus after Unsubscribe answered: %r" % (r,))
    except zeep.exceptions.Fault as e:
        fault_line(step, e, history)
    go_on()

    step = "fault-expires"
    try:
        r = subscribe("PT0S")
        raise RuntimeError("Subscribe with Expires PT0S answered: %r" % (r,))
    except zeep.exceptions.Fault as e:
        fault_line(step, e, history)
    go_on()

    step = "done"
    emit(step)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report the step that failed, then fail
        import traceback

        traceback.print_exc()
        emit(step, ok=False, error="%s: %s" % (type(e).__name__, e))
        sys.exit(1)
