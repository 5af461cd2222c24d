package wsdl

// "make generate" (go generate ./wsdl) runs the small program in
// internal/gen, which writes three files:
//
//   - types.gen.go: Go types for the messages of herald.wsdl and the schemas
//     it imports (../xsd), made with gowsdl v0.5.0, the tool dependency of
//     go.mod ("go tool gowsdl"), and post-processed;
//   - operations.gen.go: the operation table of herald.wsdl and
//     eventing-2011.wsdl as Go literals (generatedOperations), read with
//     package internal/wsdlops, with the types.gen.go struct of each Body
//     element where there is one. No types are generated for the WS-Eventing
//     2011 schema, so the 2011 operations have no Request or Response type;
//   - wsdlclient/client.gen.go: gowsdl's SOAP clients of herald.wsdl's port
//     types, in their own package so that package wsdl does not import
//     gowsdl's soap package.
//
// TestGeneratedUpToDate runs the same command and fails when a committed
// file differs.
//
// gowsdl v0.5.0 has bugs and limits; internal/gen works around these:
//
//   - Types of different namespaces with the same Go name collide (the
//     management tns:subscribe and wse:Subscribe are both "Subscribe", same
//     for subscribeResponse and unsubscribe), and for operations it picks the
//     message's element by a case-insensitive name match over all schemas
//     (SubscribeOp would take tns:subscribe). gowsdl therefore runs once per
//     port type, on a WSDL that imports only the schemas its messages use,
//     plus once for the remaining schemas; on a name collision the type not
//     from the WSDL's target namespace gets its namespace prefix:
//     WseSubscribe, WseSubscribeResponse, WseUnsubscribe.
//   - Global complex types get an XMLName taken from the first element
//     declared with that type (EndpointReferenceType becomes
//     <wsa:EndpointReference>, AttributedURI <wsa:MessageID>), which breaks
//     every other use (wse:NotifyTo, wsa:Address, ...): those XMLName fields
//     are removed. Elements declared with such a type ("type NotifyTo
//     EndpointReferenceType") become structs with the element's XMLName that
//     embed the type.
//   - Element fields carry no namespace in their tags, so a struct of one
//     namespace inside another marshals in the wrong one (wsa:Address inside
//     wse:NotifyTo came out in the wse namespace): qualified local elements
//     get their namespace in the tag.
//   - Every element field is omitempty, so required elements with a zero
//     value (unsubscribeResponse <return>false</return>) were left out when
//     marshalling: omitempty is kept only for optional elements.
//   - xs:any becomes []string, which keeps only character data: it becomes
//     []AnyElement (name, attributes, inner XML).
//   - mixed="true" is ignored, losing text content (the wse:Filter
//     expression): mixed types get a CharData field.
//   - Simple types derived from built-ins it does not know (xs:QName,
//     xs:duration, xs:nonNegativeInteger) become "type T *QName" with QName
//     undeclared, and enumeration constants of a pointer type: the pointer is
//     dropped and the missing built-ins are declared as strings.
//   - The character data of simple content is tagged json:"-,", a
//     malformed tag (it names the JSON key "-"): it becomes json:"value".
//   - It reads soapAction only from SOAP 1.1 bindings (and from the first
//     binding of a port type, even a SOAP 1.2 one): only the SOAP 1.1
//     bindings are given to it.
//   - gowsdl only logs errors of its type generator and still exits 0:
//     internal/gen fails on any logged error.
//   - xs:dateTime, xs:date and xs:time become soap.XSDDateTime,
//     soap.XSDDate and soap.XSDTime, which would link gowsdl's SOAP client
//     into every user of the types: they become DateTime, Date and Time,
//     strings in the lexical form (FormatDateTime and DateTime.Time convert
//     a DateTime).
//   - The types and the clients come in one file: the clients (functions,
//     the port type interfaces, the structs holding a *soap.Client) go to
//     wsdlclient/client.gen.go, their references to the types qualified
//     with "wsdl.".
//
// Limits that remain (use hand-written code where they matter):
//
//   - The generated clients (wsdlclient.NewNotificationService,
//     NewEventSource, NewSubscriptionManager, ...) use gowsdl's soap
//     package, which speaks SOAP 1.1 only and sends no WS-Addressing headers;
//     they fit Herald's SOAP 1.1 ports, which fall back to SOAPAction.
//   - soap:header parts are ignored: the SubscriptionManager clients do not
//     send wse:Identifier (add it with soap.Client.AddHeader).
//   - Elements of simple type (wse:Identifier, wse:Expires, h:Secret) are
//     plain string types without XMLName; simple content with attributes
//     and a string base (wse:Reason's LanguageSpecificStringType) loses its
//     attributes (xml:lang); xs:union types (wse:ExpirationType) are strings.
//   - AnyElement.InnerXML is kept verbatim: prefixes declared outside the
//     element are not carried along when it is marshalled again.

//go:generate go run ./internal/gen -wsdl herald.wsdl -table eventing-2011.wsdl -o types.gen.go -ops operations.gen.go -client wsdlclient/client.gen.go
