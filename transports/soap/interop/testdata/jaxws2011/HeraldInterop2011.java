// HeraldInterop2011 drives Herald's WS-Eventing 2011 ports (W3C
// Recommendation, namespace http://www.w3.org/2011/03/ws-evt) through JAX-WS
// RI proxies that wsimport generated from Herald's published 2011 WSDL
// (GET /eventing?wsdl=2011), with WS-Addressing 1.0
// (javax.xml.ws.soap.AddressingFeature). It is run by interop_test.go; it
// knows nothing of Herald beyond the generated classes.
//
//   java HeraldInterop2011 --wsdl URL --notify-to URL --topic TOPIC
//                          --soap 1.1|1.2 [--auth basic]
//
// The steps, their JSON lines, the go-ahead on stdin after each and
// --auth basic are those of HeraldInterop (the 2004/08 client). The
// differences are 2011's: wse:Expires and wse:GrantedExpires are elements
// of ExpirationType and MiniExpirationType; the SubscriptionManager EPR is
// a W3CEndpointReference (read here through its XML), whose reference
// parameter h:SubscriptionId the client echoes through the header parameter
// wsimport generated from the WSDL's soap:header part; Unsubscribe answers
// wse:UnsubscribeResponse; and the Subscribe with Expires PT0S (no
// BestEffort) fails with wse:UnsupportedExpirationValue.
//
// Set HERALD_INTEROP_DUMP=1 to have the RI print every message on stdout
// (the test ignores non-JSON lines).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.xml.namespace.QName;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.soap.SOAPFault;
import javax.xml.transform.dom.DOMResult;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.soap.SOAPFaultException;
import javax.xml.ws.wsaddressing.W3CEndpointReference;
import javax.xml.ws.wsaddressing.W3CEndpointReferenceBuilder;

import com.sun.istack.localization.Localizable;

import org.w3._2011._03.ws_evt.DeliveryType;
import org.w3._2011._03.ws_evt.EventSource;
import org.w3._2011._03.ws_evt.ExpirationType;
import org.w3._2011._03.ws_evt.FilterType;
import org.w3._2011._03.ws_evt.GetStatus;
import org.w3._2011._03.ws_evt.GetStatusResponse;
import org.w3._2011._03.ws_evt.HeraldEventing2011Service;
import org.w3._2011._03.ws_evt.ObjectFactory;
import org.w3._2011._03.ws_evt.Renew;
import org.w3._2011._03.ws_evt.RenewResponse;
import org.w3._2011._03.ws_evt.Subscribe;
import org.w3._2011._03.ws_evt.SubscribeResponse;
import org.w3._2011._03.ws_evt.SubscriptionManager;
import org.w3._2011._03.ws_evt.Unsubscribe;
import org.w3._2011._03.ws_evt.UnsubscribeResponse;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public class HeraldInterop2011 {
    static final String WSA = "http://www.w3.org/2005/08/addressing";
    static final String HERALD = "http://herald-eventing.github.io/ns/2026/herald";
    static final String TOPIC_DIALECT = HERALD + "/dialects/topic";

    static String step = "start";

    public static void main(String[] args) {
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        if (System.getenv("HERALD_INTEROP_DUMP") != null) {
            System.setProperty("com.sun.xml.ws.transport.http.client.HttpTransportPipe.dump", "true");
        }
        try {
            run(opt);
        } catch (Throwable t) {
            t.printStackTrace();
            emit(step, false, "error", t.toString());
            System.exit(1);
        }
    }

    static void run(Map<String, String> opt) throws Exception {
        boolean soap12 = opt.getOrDefault("soap", "1.2").equals("1.2");
        AddressingFeature wsa = new AddressingFeature(true, true);
        ObjectFactory wse = new ObjectFactory();
        String auth = opt.get("auth");
        String key = System.getenv("HERALD_INTEROP_KEY");
        if (auth != null && !auth.equals("basic")) {
            throw new IllegalArgumentException("--auth basic");
        }
        if (auth != null && (key == null || key.isEmpty())) {
            throw new IllegalArgumentException("--auth basic needs the key in HERALD_INTEROP_KEY");
        }
        String notifyTo = opt.get("notify-to"), topic = opt.get("topic");

        step = "wsdl";
        HeraldEventing2011Service service = new HeraldEventing2011Service(new URL(opt.get("wsdl")));
        EventSource source = soap12 ? service.getEventSourceSoap12Port(wsa) : service.getEventSourceSoap11Port(wsa);
        if (auth != null) {
            basicAuth(source, key);
        }
        emit(step, true, "port", soap12 ? "EventSourceSoap12Port" : "EventSourceSoap11Port",
                "address", (String) ((BindingProvider) source).getRequestContext().get(BindingProvider.ENDPOINT_ADDRESS_PROPERTY));
        await();

        if (auth != null) {
            // The same Subscribe from a port without the credential.
            step = "anonymous";
            EventSource anon = soap12 ? service.getEventSourceSoap12Port(wsa) : service.getEventSourceSoap11Port(wsa);
            try {
                SubscribeResponse bad = anon.subscribeOp(subscribe(wse, notifyTo, topic, "PT10M"));
                throw new IllegalStateException("Subscribe without a credential answered, expires " + granted(bad.getGrantedExpires()));
            } catch (SOAPFaultException e) {
                emitFault(step, e.getFault(), "kind", "fault", "status", responseStatus(anon), "challenge", challenge(anon));
            } catch (WebServiceException e) {
                String status = responseStatus(anon);
                if (status.isEmpty() && e instanceof Localizable && "http.status.code".equals(((Localizable) e).getKey())) {
                    status = String.valueOf(((Localizable) e).getArguments()[0]);
                }
                emit(step, true, "kind", "transport", "status", status, "challenge", challenge(anon), "reason", e.getMessage());
            }
            await();
        }

        // Subscribe: NotifyTo the test's sink, a topic filter, ten minutes.
        step = "subscribe";
        SubscribeResponse sr = source.subscribeOp(subscribe(wse, notifyTo, topic, "PT10M"));
        Element manager = xml(sr.getSubscriptionManager());
        String managerAddress = child(manager, WSA, "Address").getTextContent().trim();
        Element params = child(manager, WSA, "ReferenceParameters");
        Element id = params == null ? null : child(params, HERALD, "SubscriptionId");
        if (id == null) {
            throw new IllegalStateException("the SubscriptionManager EPR has no h:SubscriptionId reference parameter");
        }
        String identifier = id.getTextContent().trim();
        emit(step, true, "manager", managerAddress, "identifier", identifier, "expires", granted(sr.getGrantedExpires()));

        // The test publishes and checks its sink, then says go on.
        await();

        SubscriptionManager sm = soap12 ? service.getSubscriptionManagerSoap12Port(wsa) : service.getSubscriptionManagerSoap11Port(wsa);
        ((BindingProvider) sm).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, managerAddress);
        if (auth != null) {
            basicAuth(sm, key);
        }

        step = "getstatus";
        GetStatusResponse gs = sm.getStatusOp(new GetStatus(), identifier);
        emit(step, true, "expires", granted(gs.getGrantedExpires()));
        await();

        step = "renew";
        Renew renew = new Renew();
        renew.setExpires(expires("PT20M"));
        RenewResponse rr = sm.renewOp(renew, identifier);
        emit(step, true, "expires", granted(rr.getGrantedExpires()));
        await();

        step = "unsubscribe";
        UnsubscribeResponse ur = sm.unsubscribeOp(new Unsubscribe(), identifier);
        if (ur == null) {
            throw new IllegalStateException("Unsubscribe answered no wse:UnsubscribeResponse");
        }
        emit(step, true);
        await();

        step = "fault-unknown";
        try {
            GetStatusResponse after = sm.getStatusOp(new GetStatus(), identifier);
            throw new IllegalStateException("GetStatus after Unsubscribe answered, expires " + granted(after.getGrantedExpires()));
        } catch (SOAPFaultException e) {
            emitFault(step, e.getFault());
        }
        await();

        step = "fault-expires";
        try {
            SubscribeResponse bad = source.subscribeOp(subscribe(wse, notifyTo, topic, "PT0S"));
            throw new IllegalStateException("Subscribe with Expires PT0S answered, expires " + granted(bad.getGrantedExpires()));
        } catch (SOAPFaultException e) {
            emitFault(step, e.getFault());
        }
        await();
        step = "done";
        emit(step, true);
    }

    static ExpirationType expires(String value) {
        ExpirationType e = new ExpirationType();
        e.setValue(value);
        return e;
    }

    static String granted(org.w3._2011._03.ws_evt.MiniExpirationType e) {
        return e == null ? null : e.getValue();
    }

    static Subscribe subscribe(ObjectFactory wse, String notifyTo, String topic, String expires) {
        W3CEndpointReference epr = new W3CEndpointReferenceBuilder().address(notifyTo).build();
        DeliveryType delivery = new DeliveryType();
        delivery.getContent().add(wse.createNotifyTo(epr));
        FilterType filter = new FilterType();
        filter.setDialect(TOPIC_DIALECT);
        filter.getContent().add(topic);
        Subscribe s = new Subscribe();
        s.setDelivery(delivery);
        s.setExpires(expires(expires));
        s.setFilter(filter);
        return s;
    }

    // xml is epr as a DOM element: W3CEndpointReference has no getters, its
    // XML is the only way to its address and reference parameters.
    static Element xml(W3CEndpointReference epr) throws Exception {
        if (epr == null) {
            throw new IllegalStateException("the SubscribeResponse has no wse:SubscriptionManager");
        }
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        Document doc = f.newDocumentBuilder().newDocument();
        epr.writeTo(new DOMResult(doc));
        return doc.getDocumentElement();
    }

    // child is parent's first child element ns:local, null when none.
    static Element child(Element parent, String ns, String local) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && ns.equals(n.getNamespaceURI()) && local.equals(n.getLocalName())) {
                return (Element) n;
            }
        }
        return null;
    }

    // basicAuth has the RI send HTTP Basic on port: any user name, the key
    // as the password.
    static void basicAuth(Object port, String key) {
        Map<String, Object> rc = ((BindingProvider) port).getRequestContext();
        rc.put(BindingProvider.USERNAME_PROPERTY, "any-user");
        rc.put(BindingProvider.PASSWORD_PROPERTY, key);
    }

    // responseStatus is the HTTP status of port's last response, "" when
    // the RI did not record it.
    static String responseStatus(Object port) {
        Map<String, Object> rc = ((BindingProvider) port).getResponseContext();
        Object code = rc == null ? null : rc.get(MessageContext.HTTP_RESPONSE_CODE);
        return code == null ? "" : code.toString();
    }

    // challenge is the WWW-Authenticate header of port's last response, ""
    // when the RI did not record the headers.
    static String challenge(Object port) {
        Map<String, Object> rc = ((BindingProvider) port).getResponseContext();
        Object headers = rc == null ? null : rc.get(MessageContext.HTTP_RESPONSE_HEADERS);
        if (headers instanceof Map) {
            for (Map.Entry<?, ?> h : ((Map<?, ?>) headers).entrySet()) {
                if (h.getKey() != null && h.getKey().toString().equalsIgnoreCase("WWW-Authenticate") && h.getValue() instanceof List) {
                    return String.join(", ", ((List<?>) h.getValue()).stream().map(String::valueOf).toArray(String[]::new));
                }
            }
        }
        return "";
    }

    static BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));

    // await waits for the test's go-ahead after a step.
    static void await() throws java.io.IOException {
        if (in.readLine() == null) {
            throw new IllegalStateException("stdin closed: the test gave no go-ahead after step " + step);
        }
    }

    static void emitFault(String step, SOAPFault f, String... kv) {
        String subcode = "";
        try {
            Iterator<?> it = f.getFaultSubcodes();
            if (it.hasNext()) {
                subcode = clark((QName) it.next());
            }
        } catch (UnsupportedOperationException soap11) {
            // SOAP 1.1 faults have no subcodes.
        }
        String[] all = new String[6 + kv.length];
        String[] base = {"code", clark(f.getFaultCodeAsQName()), "subcode", subcode, "reason", f.getFaultString()};
        System.arraycopy(base, 0, all, 0, 6);
        System.arraycopy(kv, 0, all, 6, kv.length);
        emit(step, true, all);
    }

    static String clark(QName q) {
        return q == null ? "" : "{" + q.getNamespaceURI() + "}" + q.getLocalPart();
    }

    static void emit(String step, boolean ok, String... kv) {
        StringBuilder b = new StringBuilder();
        b.append("{\"client\":\"jaxws\",\"step\":").append(quote(step)).append(",\"ok\":").append(ok);
        for (int i = 0; i + 1 < kv.length; i += 2) {
            b.append(',').append(quote(kv[i])).append(':').append(quote(kv[i + 1]));
        }
        b.append('}');
        System.out.println(b);
        System.out.flush();
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
