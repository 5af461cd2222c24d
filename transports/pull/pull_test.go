package pull_test

import (
	"testing"

	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/pull/pulltest"
)

func TestProcessorSuite(t *testing.T) { processortest.Run(t, pulltest.Fixture()) }
