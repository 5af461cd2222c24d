package all_test

import (
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/pull/pulltest"
	"github.com/herald-eventing/herald/transports/sms/smstest"
	"github.com/herald-eventing/herald/transports/smtp/smtptest"
	"github.com/herald-eventing/herald/transports/soap/soaptest"
	"github.com/herald-eventing/herald/transports/webhook/webhooktest"

	_ "github.com/herald-eventing/herald/transports/all"
)

// fixtures has one entry per processor Herald ships.
var fixtures = map[string]func() processortest.Fixture{
	"email":   smtptest.Fixture,
	"pull":    pulltest.Fixture,
	"sms":     smstest.Fixture,
	"soap":    soaptest.Fixture,
	"webhook": webhooktest.Fixture,
}

// TestEveryProcessorPassesTheSuite runs the shared suite for every
// registered processor; one without a fixture fails.
func TestEveryProcessorPassesTheSuite(t *testing.T) {
	for _, name := range eventing.Drivers() {
		t.Run(name, func(t *testing.T) {
			f, ok := fixtures[name]
			if !ok {
				t.Fatalf("processor %s has no fixture: give it a stand-in and add it here", name)
			}
			processortest.Run(t, f())
		})
	}
}
