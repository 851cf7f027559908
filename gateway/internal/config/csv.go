package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// CSVProblem is one problem in a devices CSV file: where (line, and the column when one is
// to blame) and what.
type CSVProblem struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"` // a DeviceCSVHeader name; empty for the line as a whole
	Msg    string `json:"message"`
}

func (p CSVProblem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("%d: %s", p.Line, p.Msg)
	}
	return fmt.Sprintf("%d: %s: %s", p.Line, p.Column, p.Msg)
}

// CSVRow is a device read from a CSV file with the line it came from.
type CSVRow struct {
	Line   int
	Device Device
}

// ErrTooManyRows is returned by ReadDeviceCSV for a file with more rows than allowed.
var ErrTooManyRows = errors.New("config: too many rows")

// ParseDeviceCSV reads devices from CSV text whose first row is DeviceCSVHeader (columns may be
// in any order; family and id are required, the rest optional). Every problem is returned at
// once, each naming the line and column.
func ParseDeviceCSV(r io.Reader, name string) ([]Device, error) {
	rows, problems, err := ReadDeviceCSV(r, 0)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	out := make([]Device, 0, len(rows))
	for _, row := range rows {
		out = append(out, row.Device)
	}
	if len(problems) > 0 {
		p := make(Errors, 0, len(problems))
		for _, e := range problems {
			p = append(p, name+":"+e.String())
		}
		if len(rows) == 0 {
			out = nil
		}
		return out, p
	}
	return out, nil
}

// ReadDeviceCSV reads devices from CSV text as ParseDeviceCSV does, returning each device with
// its line and every problem found, each with its line and column. A header problem stops
// the reading (no rows are returned). With maxRows > 0, a file of more rows fails with
// ErrTooManyRows; an unreadable file (not CSV at all) fails with an error.
func ReadDeviceCSV(r io.Reader, maxRows int) ([]CSVRow, []CSVProblem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, []CSVProblem{{Line: 1, Msg: "the file is empty: the first line must be the header"}}, nil
	}
	if err != nil {
		return nil, []CSVProblem{{Line: 1, Msg: "reading the header: " + csvErr(err)}}, nil
	}
	col := map[string]int{}
	known := map[string]bool{}
	for _, h := range DeviceCSVHeader {
		known[h] = true
	}
	var p []CSVProblem
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !known[h] {
			p = append(p, CSVProblem{Line: 1, Msg: fmt.Sprintf("unknown column %q", h)})
			continue
		}
		if _, dup := col[h]; dup {
			p = append(p, CSVProblem{Line: 1, Column: h, Msg: "column given twice"})
			continue
		}
		col[h] = i
	}
	for _, req := range []string{"family", "id"} {
		if _, ok := col[req]; !ok {
			p = append(p, CSVProblem{Line: 1, Msg: fmt.Sprintf("column %q is required", req)})
		}
	}
	if len(p) > 0 {
		return nil, p, nil
	}
	var out []CSVRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if pe, ok := err.(*csv.ParseError); ok {
				line = pe.Line
			}
			p = append(p, CSVProblem{Line: line, Msg: csvErr(err)})
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if maxRows > 0 && len(out) == maxRows {
			return nil, nil, fmt.Errorf("%w: at most %d devices at once", ErrTooManyRows, maxRows)
		}
		d, rp := deviceRow(rec, col, line)
		p = append(p, rp...)
		out = append(out, CSVRow{Line: line, Device: d})
	}
	return out, p, nil
}

// deviceRow makes a device of one CSV record, with the problems found on its line.
func deviceRow(rec []string, col map[string]int, line int) (Device, []CSVProblem) {
	var p []CSVProblem
	add := func(column, msg string) { p = append(p, CSVProblem{Line: line, Column: column, Msg: msg}) }
	get := func(k string) string {
		if i, ok := col[k]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	d := Device{
		ID: get("id"), Family: get("family"), Name: get("name"), ProductKey: get("product_key"),
		Location: Location{Building: get("building"), Unit: get("unit"), Room: get("room")},
		GridCode: get("grid_code"), Password: get("password"),
	}
	var err error
	if v := get("heartbeat_interval"); v != "" {
		if d.HeartbeatInterval, err = time.ParseDuration(v); err != nil {
			add("heartbeat_interval", fmt.Sprintf("not a duration such as 60s or 5m: %q", v))
		}
	}
	if rn := get("resident_name"); rn != "" {
		res := &Resident{Name: rn, Phone: get("resident_phone"), MedicalNotes: get("resident_medical_notes")}
		if v := get("resident_age"); v != "" {
			if res.Age, err = strconv.Atoi(v); err != nil {
				add("resident_age", fmt.Sprintf("not a whole number: %q", v))
			}
		}
		if v := get("resident_lives_alone"); v != "" {
			if res.LivesAlone, err = strconv.ParseBool(v); err != nil {
				add("resident_lives_alone", fmt.Sprintf("not true/false: %q", v))
			}
		}
		if cn := get("contact_name"); cn != "" {
			res.EmergencyContacts = []Contact{{Name: cn, Relation: get("contact_relation"), Phone: get("contact_phone")}}
		}
		d.Resident = res
	} else {
		for _, k := range []string{"resident_age", "resident_phone", "resident_medical_notes", "resident_lives_alone", "contact_name", "contact_relation", "contact_phone"} {
			if get(k) != "" {
				add("resident_name", "required when "+k+" is given")
				break
			}
		}
	}
	for _, e := range ValidateDevice(d) {
		field, msg, ok := strings.Cut(e, ": ")
		if !ok {
			add("", e)
			continue
		}
		if field == "resident" {
			field = "resident_name"
		}
		add(strings.ReplaceAll(field, ".", "_"), msg)
	}
	return d, p
}

// csvErr says what encoding/csv found wrong, without its position (the caller gives the line).
func csvErr(err error) string {
	if pe, ok := err.(*csv.ParseError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

func (c *Config) loadDeviceCSV() error {
	var p Errors
	for i, f := range c.DevicesCSV {
		fh, err := os.Open(c.Path(f))
		if err != nil {
			p = append(p, fmt.Sprintf("devices_csv[%d]: %v", i, err))
			continue
		}
		devs, err := ParseDeviceCSV(fh, f)
		fh.Close()
		if err != nil {
			if e, ok := err.(Errors); ok {
				p = append(p, e...)
			} else {
				p = append(p, err.Error())
			}
			continue
		}
		c.Devices = append(c.Devices, devs...)
	}
	p = append(p, c.validateDevices()...)
	if len(p) > 0 {
		return p
	}
	return nil
}
