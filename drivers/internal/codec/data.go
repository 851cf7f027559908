package codec

import (
	"errors"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/jsonscan"
)

// where names the event being decoded in error messages.
type where struct {
	kind  string // "event" or "alink event"
	ident string // Alink event identifier
	typ   string // canonical type
}

func (w where) String() string {
	switch {
	case w.ident != "" && w.typ != "":
		return w.kind + " " + w.ident + " (" + w.typ + ")"
	case w.ident != "":
		return w.kind + " " + w.ident
	case w.typ != "":
		return w.kind + " " + w.typ
	}
	return w.kind
}

// data decodes the members of a data object (native) or of an Alink event's params.value
// into out, and returns which of et's fields it set. For Alink, ae maps parameters to fields
// and vendor values to canonical ones; members nothing maps are ignored.
func (d *Driver) data(s *jsonscan.Scanner, et *EventType, ae *drivers.AlinkEvent, w where, out *eventBox) (uint64, error) {
	var seen uint64
	o, _ := s.Object()
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		var (
			idx int
			pb  [64]byte
			prm []byte // the Alink parameter, for messages (the key buffer is reused)
		)
		if ae != nil {
			name, mapped := ae.Fields[string(key)]
			if !mapped {
				s.Skip()
				continue
			}
			prm = pb[:copy(pb[:], key)]
			idx = et.fieldStr(name)
		} else {
			idx = et.field(key)
		}
		if idx < 0 {
			s.Skip()
			continue
		}
		f := &et.Fields[idx]
		tok := readToken(s)
		if s.Err() != nil {
			return 0, d.malformed(s, w)
		}
		if tok.kind == jsonscan.Null { // absent; a repeated member replaces an earlier one
			out.unset(f.Name)
			seen &^= 1 << idx
			continue
		}
		if ae != nil && ae.Values != nil {
			if vm, ok := ae.Values[f.Name]; ok {
				if v, ok := vm[string(tok.text)]; ok && (tok.kind == jsonscan.String || tok.kind == jsonscan.Number || tok.kind == jsonscan.Bool) {
					tok = mappedToken(f, v)
				}
			}
		}
		v, reason, complaint := f.parse(tok)
		if reason != "" {
			if f.Lenient {
				out.unset(f.Name)
				seen &^= 1 << idx
				continue
			}
			if prm != nil {
				return 0, d.reject(reason, w, "data.%s (parameter %s): %s", f.Name, string(prm), complaint)
			}
			return 0, d.reject(reason, w, "data.%s: %s", f.Name, complaint)
		}
		if f.Kind == Text && v.s == "" {
			out.unset(f.Name)
			seen &^= 1 << idx
			continue
		}
		out.set(f.Name, v)
		seen |= 1 << idx
	}
	if s.Err() != nil {
		return 0, d.malformed(s, w)
	}
	return seen, nil
}

// finishData fills the fields data did not set — from the Alink event's defaults, the
// product's fixed port, or the field's fallback — rejects a missing required field, and runs
// the event type's check.
func (d *Driver) finishData(et *EventType, ae *drivers.AlinkEvent, m *drivers.AlinkModel, w where, seen uint64, out *eventBox) error {
	for i := range et.Fields {
		if seen&(1<<i) != 0 {
			continue
		}
		f := &et.Fields[i]
		if ae != nil {
			if def, ok := ae.Defaults[f.Name]; ok {
				v, reason, complaint := f.parse(mappedToken(f, def))
				if reason != "" {
					return d.reject(reason, w, "data.%s: model default: %s", f.Name, complaint)
				}
				out.set(f.Name, v)
				continue
			}
		}
		switch {
		case f.Name == "port" && m != nil && m.Port != nil:
			out.set(f.Name, value{i: int64(*m.Port), f: float64(*m.Port)})
		case f.Fallback != "":
			out.set(f.Name, value{s: f.Fallback})
		case f.Required:
			return d.reject(drivers.ReasonMissingField, w, "data.%s is missing", f.Name)
		}
	}
	if et.Check != nil {
		if err := et.Check(&out.Data); err != nil {
			reason, msg := drivers.ReasonWrongType, error(err)
			var de *drivers.DecodeError
			if errors.As(err, &de) {
				reason, msg = de.Reason, de.Err
			}
			return drivers.Reject(reason, "%s: %s: %w", d.spec.Family, w, msg)
		}
	}
	return nil
}
