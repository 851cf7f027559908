package codec

import (
	"strconv"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/jsonscan"
)

// slot describes a field of drivers.EventData.
type slot struct {
	numeric bool
	integer bool
}

// slotOf returns the slot of a canonical data field name.
func slotOf(name string) (slot, bool) {
	switch name {
	case "source", "compartment", "parcel", "resident", "session", "code", "vendor_code":
		return slot{}, true
	case "hours", "battery_pct", "energy_wh", "temp_c":
		return slot{numeric: true}, true
	case "port":
		return slot{numeric: true, integer: true}, true
	}
	return slot{}, false
}

// value is a decoded field value.
type value struct {
	s string
	f float64
	i int64
}

// eventBox is an Event allocated together with the values its data's pointer fields point
// to, so that an event costs one allocation rather than one per numeric field.
type eventBox struct {
	drivers.Event
	port                        int
	batteryPct, energyWh, tempC float64
}

// set stores v in the named data field; the name has been checked by slotOf.
func (b *eventBox) set(name string, v value) {
	d := &b.Data
	switch name {
	case "source":
		d.Source = v.s
	case "compartment":
		d.Compartment = v.s
	case "parcel":
		d.Parcel = v.s
	case "resident":
		d.Resident = v.s
	case "session":
		d.Session = v.s
	case "code":
		d.Code = v.s
	case "vendor_code":
		d.VendorCode = v.s
	case "hours":
		d.Hours = v.f
	case "battery_pct":
		b.batteryPct = v.f
		d.BatteryPct = &b.batteryPct
	case "energy_wh":
		b.energyWh = v.f
		d.EnergyWh = &b.energyWh
	case "temp_c":
		b.tempC = v.f
		d.TempC = &b.tempC
	case "port":
		b.port = int(v.i)
		d.Port = &b.port
	}
}

// unset clears the named data field.
func (b *eventBox) unset(name string) {
	d := &b.Data
	switch name {
	case "source":
		d.Source = ""
	case "compartment":
		d.Compartment = ""
	case "parcel":
		d.Parcel = ""
	case "resident":
		d.Resident = ""
	case "session":
		d.Session = ""
	case "code":
		d.Code = ""
	case "vendor_code":
		d.VendorCode = ""
	case "hours":
		d.Hours = 0
	case "battery_pct":
		d.BatteryPct = nil
	case "energy_wh":
		d.EnergyWh = nil
	case "temp_c":
		d.TempC = nil
	case "port":
		d.Port = nil
	}
}

// token is a scalar read from the document, or a replacement from an Alink model.
type token struct {
	kind     jsonscan.Kind
	text     []byte // string contents or number text; valid until the next read
	mapped   string // set (with isMapped) when a model's Values or Defaults supplied the value
	isMapped bool
}

// readToken reads any value; objects and arrays are skipped and only their kind is kept.
func readToken(s *jsonscan.Scanner) token {
	switch k := s.Peek(); k {
	case jsonscan.String:
		b, _ := s.Str()
		return token{kind: k, text: b}
	case jsonscan.Number:
		b, _ := s.Num()
		return token{kind: k, text: b}
	case jsonscan.Bool:
		v, _ := s.Bool()
		if v {
			return token{kind: k, text: []byte("true")}
		}
		return token{kind: k, text: []byte("false")}
	case jsonscan.Null:
		s.Null()
		return token{kind: k}
	default:
		s.Skip()
		return token{kind: k}
	}
}

// mappedToken makes the token for a model-supplied value of field f.
func mappedToken(f *Field, v string) token {
	k := jsonscan.String
	if (f.Kind == Number || f.Kind == Int) && isNumber(v) {
		k = jsonscan.Number
	}
	return token{kind: k, mapped: v, isMapped: true}
}

// isNumber reports whether v is a JSON number (so not NaN, Inf or hex, which strconv takes).
func isNumber(v string) bool {
	var s jsonscan.Scanner
	s.Reset([]byte(v))
	_, ok := s.Num()
	return ok && s.Finish() == nil
}

func (t *token) bytes() []byte {
	if t.isMapped {
		return []byte(t.mapped)
	}
	return t.text
}

// parse converts a token to field f's value. The error is the reason and the complaint.
func (f *Field) parse(t token) (value, drivers.Reason, string) {
	switch f.Kind {
	case Text:
		switch t.kind {
		case jsonscan.String:
			if t.isMapped {
				return value{s: t.mapped}, "", ""
			}
			if len(t.text) > drivers.MaxTextLen {
				return value{}, drivers.ReasonOversize, "longer than " + strconv.Itoa(drivers.MaxTextLen) + " bytes"
			}
			return value{s: string(t.text)}, "", ""
		case jsonscan.Number:
			b := t.bytes()
			if _, err := jsonscan.ParseInt(b); err != nil {
				return value{}, drivers.ReasonWrongType, "want a string or an integer, got " + string(b)
			}
			return value{s: string(b)}, "", ""
		}
		return value{}, drivers.ReasonWrongType, "want a string, got " + t.kind.String()
	case Enum:
		if t.kind != jsonscan.String && !(t.isMapped || t.kind == jsonscan.Number || t.kind == jsonscan.Bool) {
			return value{}, drivers.ReasonWrongType, "want a string, got " + t.kind.String()
		}
		b := t.bytes()
		for _, v := range f.Values {
			if v == string(b) {
				return value{s: v}, "", ""
			}
		}
		return value{}, drivers.ReasonOutOfRange, strconv.Quote(string(b)) + " is not one of " + quoteList(f.Values)
	case Number, Int:
		if t.kind != jsonscan.Number {
			return value{}, drivers.ReasonWrongType, "want a number, got " + t.kind.String()
		}
		b := t.bytes()
		var v value
		if f.Kind == Int {
			i, err := jsonscan.ParseInt(b)
			switch err {
			case nil:
			case jsonscan.ErrRange:
				return value{}, drivers.ReasonOutOfRange, string(b) + " is out of range"
			default:
				return value{}, drivers.ReasonWrongType, "want an integer, got " + string(b)
			}
			v.i, v.f = i, float64(i)
		} else {
			x, err := jsonscan.ParseFloat(b)
			if err != nil {
				return value{}, drivers.ReasonOutOfRange, string(b) + " is out of range"
			}
			v.f = x
		}
		if f.bounded() && (v.f < f.Min || v.f > f.Max) {
			return value{}, drivers.ReasonOutOfRange, string(b) + " is outside " + bounds(f.Min, f.Max)
		}
		return v, "", ""
	}
	return value{}, drivers.ReasonWrongType, "unknown field kind"
}

func bounds(lo, hi float64) string {
	if hi == Unbounded {
		return "[" + strconv.FormatFloat(lo, 'g', -1, 64) + ", ∞)"
	}
	return "[" + strconv.FormatFloat(lo, 'g', -1, 64) + ", " + strconv.FormatFloat(hi, 'g', -1, 64) + "]"
}

func quoteList(vs []string) string {
	b := []byte{}
	for i, v := range vs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, v)
	}
	return string(b)
}
