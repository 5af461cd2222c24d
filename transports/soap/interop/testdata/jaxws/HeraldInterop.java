// HeraldInterop drives Herald's WS-Eventing ports through JAX-WS RI
// proxies that wsimport generated from Herald's published WSDL
// (GET /eventing?wsdl). It is run by interop_test.go; it knows nothing of
// Herald beyond the generated classes.
//
//   java HeraldInterop --wsdl URL --notify-to URL --topic TOPIC
//                      --soap 1.1|1.2 --addressing w3c|member [--auth basic]
//
// Every step prints one JSON line on stdout: {"step":...,"ok":true,...}, or
// "ok":false with "error" (and the client exits 1). After each step but the
// last the client waits for one line on stdin, so that the test can check
// Herald's state before the next step changes it; after "subscribe" the test
// also publishes an event and checks that the NotifyTo sink got it.
//
// --addressing w3c uses javax.xml.ws.soap.AddressingFeature (WS-Addressing
// 1.0), member uses com.sun.xml.ws.developer.MemberSubmissionAddressingFeature
// (WS-Addressing 2004/08).
//
// --auth basic sends the API key in the environment variable
// HERALD_INTEROP_KEY as HTTP Basic: BindingProvider.USERNAME_PROPERTY (any
// user name) and PASSWORD_PROPERTY (the key) on the request context of both
// ports. It also makes the Subscribe once from a port without them, as step
// "anonymous" right after "wsdl", and reports how that failed: kind "fault"
// (a SOAPFaultException: the RI read the SOAP fault in the response) or
// "transport" (any other WebServiceException), with the HTTP status and
// WWW-Authenticate from the response context (the status, failing that,
// from the exception). The RI 2.3 reads a response body only with HTTP 200,
// 202, 500 and, for SOAP 1.2, 400: it reports Herald's 401 as a
// ClientTransportException ("The server sent HTTP status code 401") and
// never sees the wsse:FailedAuthentication fault in it.
//
// Set HERALD_INTEROP_DUMP=1 to have the RI print
// every message on stdout (the test ignores non-JSON lines).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.xml.bind.JAXBElement;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.WebServiceFeature;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.soap.AddressingFeature;
import javax.xml.ws.soap.SOAPFaultException;

import com.sun.istack.localization.Localizable;
import com.sun.xml.ws.developer.MemberSubmissionAddressingFeature;

import de.jw.cloud42.webservice.EventSource;
import de.jw.cloud42.webservice.HeraldService;
import de.jw.cloud42.webservice.SubscriptionManager;
import org.xmlsoap.schemas.ws._2004._08.addressing.AttributedURI;
import org.xmlsoap.schemas.ws._2004._08.addressing.EndpointReferenceType;
import org.xmlsoap.schemas.ws._2004._08.eventing.DeliveryType;
import org.xmlsoap.schemas.ws._2004._08.eventing.FilterType;
import org.xmlsoap.schemas.ws._2004._08.eventing.GetStatus;
import org.xmlsoap.schemas.ws._2004._08.eventing.GetStatusResponse;
import org.xmlsoap.schemas.ws._2004._08.eventing.ObjectFactory;
import org.xmlsoap.schemas.ws._2004._08.eventing.Renew;
import org.xmlsoap.schemas.ws._2004._08.eventing.RenewResponse;
import org.xmlsoap.schemas.ws._2004._08.eventing.Subscribe;
import org.xmlsoap.schemas.ws._2004._08.eventing.SubscribeResponse;
import org.xmlsoap.schemas.ws._2004._08.eventing.Unsubscribe;
import org.w3c.dom.Element;

public class HeraldInterop {
    static final String WSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing";
    static final String TOPIC_DIALECT = "http://herald-eventing.github.io/ns/2026/herald/dialects/topic";

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
        String soap = opt.getOrDefault("soap", "1.2");
        String addressing = opt.getOrDefault("addressing", "w3c");
        WebServiceFeature wsa;
        if (addressing.equals("w3c")) {
            wsa = new AddressingFeature(true, true);
        } else if (addressing.equals("member")) {
            wsa = new MemberSubmissionAddressingFeature(true, true);
        } else {
            throw new IllegalArgumentException("--addressing w3c|member");
        }
        boolean soap12 = soap.equals("1.2");
        ObjectFactory wse = new ObjectFactory();
        String auth = opt.get("auth");
        String key = System.getenv("HERALD_INTEROP_KEY");
        if (auth != null && !auth.equals("basic")) {
            throw new IllegalArgumentException("--auth basic");
        }
        if (auth != null && (key == null || key.isEmpty())) {
            throw new IllegalArgumentException("--auth basic needs the key in HERALD_INTEROP_KEY");
        }

        step = "wsdl";
        HeraldService service = new HeraldService(new URL(opt.get("wsdl")));
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
                SubscribeResponse bad = anon.subscribeOp(subscribe(wse, opt.get("notify-to"), opt.get("topic"), "PT10M"));
                throw new IllegalStateException("Subscribe without a credential answered, expires " + bad.getExpires());
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
        SubscribeResponse sr = source.subscribeOp(subscribe(wse, opt.get("notify-to"), opt.get("topic"), "PT10M"));
        EndpointReferenceType manager = sr.getSubscriptionManager();
        String managerAddress = manager.getAddress().getValue();
        String identifier = identifier(manager);
        emit(step, true, "manager", managerAddress, "identifier", identifier, "expires", sr.getExpires());

        // The test publishes and checks its sink, then says go on.
        await();

        SubscriptionManager sm = soap12 ? service.getSubscriptionManagerSoap12Port(wsa) : service.getSubscriptionManagerSoap11Port(wsa);
        ((BindingProvider) sm).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, managerAddress);
        if (auth != null) {
            basicAuth(sm, key);
        }

        step = "getstatus";
        GetStatusResponse gs = sm.getStatusOp(new GetStatus(), identifier);
        emit(step, true, "expires", gs.getExpires());
        await();

        step = "renew";
        Renew renew = new Renew();
        renew.setExpires("PT20M");
        RenewResponse rr = sm.renewOp(renew, identifier);
        emit(step, true, "expires", rr.getExpires());
        await();

        step = "unsubscribe";
        sm.unsubscribeOp(new Unsubscribe(), identifier);
        emit(step, true);
        await();

        step = "fault-unknown";
        try {
            GetStatusResponse after = sm.getStatusOp(new GetStatus(), identifier);
            throw new IllegalStateException("GetStatus after Unsubscribe answered, expires " + after.getExpires());
        } catch (SOAPFaultException e) {
            emitFault(step, e.getFault());
        }
        await();

        step = "fault-expires";
        try {
            SubscribeResponse bad = source.subscribeOp(subscribe(wse, opt.get("notify-to"), opt.get("topic"), "PT0S"));
            throw new IllegalStateException("Subscribe with Expires PT0S answered, expires " + bad.getExpires());
        } catch (SOAPFaultException e) {
            emitFault(step, e.getFault());
        }
        await();
        step = "done";
        emit(step, true);
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

    static Subscribe subscribe(ObjectFactory wse, String notifyTo, String topic, String expires) {
        EndpointReferenceType epr = new EndpointReferenceType();
        AttributedURI address = new AttributedURI();
        address.setValue(notifyTo);
        epr.setAddress(address);
        DeliveryType delivery = new DeliveryType();
        delivery.getContent().add(wse.createNotifyTo(epr));
        FilterType filter = new FilterType();
        filter.setDialect(TOPIC_DIALECT);
        filter.getContent().add(topic);
        Subscribe s = new Subscribe();
        s.setDelivery(delivery);
        s.setExpires(expires);
        s.setFilter(filter);
        return s;
    }

    // identifier returns the wse:Identifier reference parameter of the
    // SubscriptionManager EPR (JAXB gives it as a JAXBElement, or as a DOM
    // element when it does not know the type).
    static String identifier(EndpointReferenceType epr) {
        if (epr.getReferenceParameters() == null) {
            throw new IllegalStateException("the SubscriptionManager EPR has no ReferenceParameters");
        }
        for (Object o : epr.getReferenceParameters().getAny()) {
            if (o instanceof JAXBElement) {
                JAXBElement<?> j = (JAXBElement<?>) o;
                if (j.getName().equals(new QName(WSE, "Identifier"))) {
                    return String.valueOf(j.getValue()).trim();
                }
            } else if (o instanceof Element) {
                Element el = (Element) o;
                if (WSE.equals(el.getNamespaceURI()) && "Identifier".equals(el.getLocalName())) {
                    return el.getTextContent().trim();
                }
            }
        }
        throw new IllegalStateException("the SubscriptionManager EPR has no wse:Identifier reference parameter");
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
