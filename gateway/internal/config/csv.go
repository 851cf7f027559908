package config

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ParseDeviceCSV reads devices from CSV text whose first row is DeviceCSVHeader (columns may be
// in any order; family and id are required, the rest optional). Every problem is returned at
// once, each naming the line and column.
func ParseDeviceCSV(r io.Reader, name string) ([]Device, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("config: %s: reading header: %w", name, err)
	}
	col := map[string]int{}
	known := map[string]bool{}
	for _, h := range DeviceCSVHeader {
		known[h] = true
	}
	var p Errors
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !known[h] {
			p = append(p, fmt.Sprintf("%s:1: unknown column %q", name, h))
			continue
		}
		col[h] = i
	}
	for _, req := range []string{"family", "id"} {
		if _, ok := col[req]; !ok {
			p = append(p, fmt.Sprintf("%s:1: column %q is required", name, req))
		}
	}
	if len(p) > 0 {
		return nil, p
	}
	var out []Device
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			p = append(p, fmt.Sprintf("%s:%d: %v", name, line, err))
			break
		}
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
		if v := get("heartbeat_interval"); v != "" {
			if d.HeartbeatInterval, err = time.ParseDuration(v); err != nil {
				p = append(p, fmt.Sprintf("%s:%d: heartbeat_interval: %v", name, line, err))
			}
		}
		if rn := get("resident_name"); rn != "" {
			res := &Resident{Name: rn, Phone: get("resident_phone"), MedicalNotes: get("resident_medical_notes")}
			if v := get("resident_age"); v != "" {
				if res.Age, err = strconv.Atoi(v); err != nil {
					p = append(p, fmt.Sprintf("%s:%d: resident_age: not a whole number: %q", name, line, v))
				}
			}
			if v := get("resident_lives_alone"); v != "" {
				if res.LivesAlone, err = strconv.ParseBool(v); err != nil {
					p = append(p, fmt.Sprintf("%s:%d: resident_lives_alone: not true/false: %q", name, line, v))
				}
			}
			if cn := get("contact_name"); cn != "" {
				res.EmergencyContacts = []Contact{{Name: cn, Relation: get("contact_relation"), Phone: get("contact_phone")}}
			}
			d.Resident = res
		}
		for _, e := range ValidateDevice(d) {
			p = append(p, fmt.Sprintf("%s:%d: %s", name, line, e))
		}
		out = append(out, d)
	}
	if len(p) > 0 {
		return out, p
	}
	return out, nil
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
