package soap_test

import (
	"testing"

	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/soap/soaptest"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, soaptest.Fixture()) }
