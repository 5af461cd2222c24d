package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/herald-eventing/herald/eventing"
)

// Deliver mails n to every address of the subscription in one SMTP
// transaction (one mail, all of them in To), on a connection of its own:
// STARTTLS (or implicit TLS) as configured, AUTH PLAIN when a user is set,
// MAIL, RCPT, DATA, QUIT. ctx bounds the dial and the whole exchange.
//
// Failures are *eventing.DeliveryError values. Trouble reaching,
// securing or logging in to the relay, and 4xx replies, are retryable. A
// 5xx reply to MAIL or DATA is permanent, and so is a 5xx reply to RCPT:
// if some recipients are refused for good, the others still get the mail
// and the error, permanent, names the refused ones; if any recipient gets
// a 4xx reply, nothing is sent and the whole delivery is retried.
func (e *Endpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	return e.p.send(ctx, e.rcpts, e.Message(n), n.MessageID)
}

// A stageError is a failure in one step of the exchange.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// retryable wraps a failure that a later attempt may not meet.
func retryable(stage string, err error) error {
	return &eventing.DeliveryError{Err: &stageError{stage, err}}
}

// transaction classifies a reply to MAIL, RCPT or DATA: 5xx is permanent
// (but for 530, authentication required, a configuration matter),
// anything else retryable.
func transaction(stage string, err error) error {
	var se *smtp.SMTPError
	permanent := errors.As(err, &se) && se.Code >= 500 && se.Code != 530
	return &eventing.DeliveryError{Permanent: permanent, Err: &stageError{stage, err}}
}

func (p *Processor) send(ctx context.Context, rcpts []string, msg []byte, messageID string) (err error) {
	if err := ctx.Err(); err != nil {
		return retryable("connect to "+p.addr, err)
	}
	raw, conn, err := p.dial(ctx)
	if err != nil {
		return retryable("connect to "+p.addr, err)
	}
	defer raw.Close()
	// Cancelling ctx (or reaching its deadline) closes the TCP
	// connection, which ends whatever read or write the client is blocked
	// in (go-smtp has no context of its own).
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	sent := false // the relay took the mail: never retry it
	defer func() {
		if err != nil && !sent && ctx.Err() != nil {
			err = retryable("SMTP exchange with "+p.addr, fmt.Errorf("%w (%v)", ctx.Err(), err))
		}
	}()

	c, err := p.session(conn)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := c.Mail(p.from.Address, nil); err != nil {
		return transaction("MAIL FROM", err)
	}
	var accepted []string
	var refused, deferred []error
	for _, r := range rcpts {
		err := c.Rcpt(r, nil)
		var se *smtp.SMTPError
		switch {
		case err == nil:
			accepted = append(accepted, r)
		case errors.As(err, &se) && se.Code >= 500:
			refused = append(refused, fmt.Errorf("<%s>: %w", r, err))
		case se != nil:
			deferred = append(deferred, fmt.Errorf("<%s>: %w", r, err))
		default:
			return retryable("RCPT TO", err)
		}
	}
	if len(deferred) > 0 {
		_ = c.Reset()
		return retryable("RCPT TO", errors.Join(append(deferred, refused...)...))
	}
	if len(accepted) == 0 {
		return eventing.Permanent(&stageError{"RCPT TO", errors.Join(refused...)})
	}
	w, err := c.Data()
	if err != nil {
		return transaction("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return retryable("DATA", err)
	}
	if err := w.Close(); err != nil {
		return transaction("end of DATA", err)
	}
	sent = true
	// The relay has taken the mail; a failing QUIT changes nothing.
	_ = c.Quit()
	p.logger.Debug("mail accepted by the relay", slog.String("message_id", messageID), slog.Int("recipients", len(accepted)))
	if len(refused) > 0 {
		return eventing.Permanent(fmt.Errorf("mailed to %s only; %w", strings.Join(accepted, ", "), &stageError{"RCPT TO", errors.Join(refused...)}))
	}
	return nil
}

// dial connects to the relay; in TLSImplicit mode it also completes the
// TLS handshake. raw is the TCP connection under conn.
func (p *Processor) dial(ctx context.Context) (raw, conn net.Conn, err error) {
	var d net.Dialer
	if raw, err = d.DialContext(ctx, "tcp", p.addr); err != nil {
		return nil, nil, err
	}
	if p.mode != TLSImplicit {
		return raw, raw, nil
	}
	tc := tls.Client(raw, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("TLS: %w", err)
	}
	return raw, tc, nil
}

// session greets the relay and secures and authenticates the connection
// as configured. Its failures are retryable: they say nothing about the
// mail.
func (p *Processor) session(conn net.Conn) (*smtp.Client, error) {
	var c *smtp.Client
	if p.mode == TLSStartTLS {
		var err error
		if c, err = smtp.NewClientStartTLS(conn, p.tls); err != nil {
			return nil, retryable("STARTTLS with "+p.addr+" ("+SettingTLS+"="+TLSStartTLS+")", err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	// EHLO (again, after STARTTLS: this is where the TLS handshake, and
	// the check of the relay's certificate, happens).
	if err := c.Hello(heloName); err != nil {
		c.Close()
		if p.mode == TLSStartTLS {
			return nil, retryable("TLS with "+p.addr, err)
		}
		return nil, retryable("EHLO to "+p.addr, err)
	}
	if p.user == "" {
		return c, nil
	}
	if _, isTLS := c.TLSConnectionState(); !isTLS && !p.loopback {
		c.Close()
		return nil, retryable("AUTH", fmt.Errorf("refusing to send the password in clear to %s", p.host))
	}
	if !c.SupportsAuth(sasl.Plain) {
		c.Close()
		return nil, retryable("AUTH", fmt.Errorf("%s does not offer AUTH PLAIN", p.addr))
	}
	if err := c.Auth(sasl.NewPlainClient("", p.user, p.password)); err != nil {
		c.Close()
		return nil, retryable(fmt.Sprintf("AUTH PLAIN as %q", p.user), err)
	}
	return c, nil
}
