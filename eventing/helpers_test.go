package eventing_test

import "github.com/herald-eventing/herald/addressing"

type addressingEPR = addressing.EndpointReference

var parseEPR = addressing.ParseEPR
