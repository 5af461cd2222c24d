// Package all registers every subscription processor Herald ships by
// importing their packages for their side effects. cmd/herald imports it;
// a build that wants fewer processors imports the ones it wants instead.
package all

import (
	_ "github.com/herald-eventing/herald/transports/pull"    // processor "pull"
	_ "github.com/herald-eventing/herald/transports/sms"     // processor "sms"
	_ "github.com/herald-eventing/herald/transports/smtp"    // processor "email"
	_ "github.com/herald-eventing/herald/transports/soap"    // processor "soap"
	_ "github.com/herald-eventing/herald/transports/webhook" // processor "webhook"
)
