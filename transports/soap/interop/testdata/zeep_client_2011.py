"""Drive Herald's WS-Eventing 2011 ports with zeep, from the published 2011 WSDL.

Run by interop_test.go with Debian's python3-zeep:

    /usr/bin/python3 zeep_client_2011.py --wsdl URL --notify-to URL --topic TOPIC --soap 1.1|1.2 [--auth basic|wsse]

The WSDL is Herald's GET /eventing?wsdl=2011: the W3C Recommendation
(namespace http://www.w3.org/2011/03/ws-evt) with WS-Addressing 1.0. The
steps, their JSON lines, the go-ahead on stdin after each, --auth and the
wire facts are those of zeep_client.py (the 2004/08 client), whose helpers
this one imports. The differences are 2011's: wse:Expires and
wse:GrantedExpires have simple content (ExpirationType, MiniExpirationType);
the SubscriptionManager EPR is WS-Addressing 1.0, and its reference
parameter h:SubscriptionId (Herald's namespace) goes back as the
_soapheaders argument zeep offers for the WSDL's soap:header part;
Unsubscribe answers wse:UnsubscribeResponse; the Subscribe with Expires PT0S
(no BestEffort) fails with wse:UnsupportedExpirationValue.

HERALD_INTEROP_DUMP=1 prints every message sent and received on stderr.
"""

import argparse
import os
import sys

import requests
from requests.auth import HTTPBasicAuth

import zeep
from zeep import xsd
from zeep.wsse.username import UsernameToken
from zeep.plugins import HistoryPlugin, Plugin
from zeep.transports import Transport

import zeep_client as base
from zeep_client import emit, fault_line

WSE = "http://www.w3.org/2011/03/ws-evt"
WSA = "http://www.w3.org/2005/08/addressing"
HERALD = "http://herald-eventing.github.io/ns/2026/herald"
TOPIC_DIALECT = HERALD + "/dialects/topic"

step = "start"


def go_on():
    """Waits for the test's go-ahead after a step."""
    if not sys.stdin.readline():
        raise RuntimeError("stdin closed: the test gave no go-ahead after step %s" % step)


class FilterText(Plugin):
    """Writes the filter expression into wse:Filter (mixed content, which
    zeep cannot fill beside xs:any; see zeep_client.FilterText)."""

    def __init__(self, text):
        self.text = text

    def egress(self, envelope, http_headers, operation, binding_options):
        for f in envelope.iter("{%s}Filter" % WSE):
            f.text = self.text
        return envelope, http_headers


def received(history, local):
    """The text of the first WS-Eventing 2011 element local in the last
    response's Body: wse:GrantedExpires is an xs:duration or an
    xs:dateTime, which zeep turns into Python values; the test wants the
    text Herald sent."""
    env = history.last_received["envelope"]
    for el in env.iter("{%s}%s" % (WSE, local)):
        return (el.text or "").strip()
    return None


def main():
    global step
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
        plugins.append(base.Dump())

    session = requests.Session()
    base.wire = base.Wire(session)
    wsse = None
    if a.auth == "basic":
        session.auth = HTTPBasicAuth("any-user", key)
    elif a.auth == "wsse":
        wsse = UsernameToken("any-user", key)

    step = "wsdl"
    transport = Transport(session=session, timeout=30, operation_timeout=30)
    client = zeep.Client(a.wsdl, plugins=plugins, transport=transport, wsse=wsse)
    source = client.bind("HeraldEventing2011Service", "EventSource%sPort" % suffix)
    emit(step, port="EventSource%sPort" % suffix, address=source._binding_options["address"])
    go_on()

    DeliveryType = client.get_type("{%s}DeliveryType" % WSE)
    FilterType = client.get_type("{%s}FilterType" % WSE)
    ExpirationType = client.get_type("{%s}ExpirationType" % WSE)
    EPR = client.get_type("{%s}EndpointReferenceType" % WSA)

    def subscribe(expires):
        return source.SubscribeOp(
            Delivery=DeliveryType(NotifyTo=EPR(Address=a.notify_to)),
            Expires=ExpirationType(expires),
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
    # h:SubscriptionId is a global element of herald.xsd, so zeep gives the
    # reference parameter as its value (or as an lxml element).
    params = sm.ReferenceParameters._value_1 if sm.ReferenceParameters is not None else []
    identifier = None
    for v in params or []:
        if isinstance(v, str):
            identifier = v.strip()
        elif hasattr(v, "tag") and v.tag == "{%s}SubscriptionId" % HERALD:
            identifier = (v.text or "").strip()
    if not identifier:
        raise RuntimeError("the SubscriptionManager EPR has no h:SubscriptionId reference parameter: %r" % (sm,))
    emit(step, manager=manager, identifier=identifier, expires=received(history, "GrantedExpires"))

    go_on()  # the test publishes and checks its sink meanwhile

    mgr = client.create_service("{%s}SubscriptionManager%sBinding" % (WSE, suffix), manager)
    headers = {"SubscriptionId": identifier}

    step = "getstatus"
    mgr.GetStatusOp(_soapheaders=headers)
    emit(step, expires=received(history, "GrantedExpires"))
    go_on()

    step = "renew"
    mgr.RenewOp(Expires=ExpirationType("PT20M"), _soapheaders=headers)
    emit(step, expires=received(history, "GrantedExpires"))
    go_on()

    step = "unsubscribe"
    mgr.UnsubscribeOp(_soapheaders=headers)
    if received(history, "UnsubscribeResponse") is None:
        raise RuntimeError("Unsubscribe answered no wse:UnsubscribeResponse")
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
