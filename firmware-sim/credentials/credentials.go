// Package credentials says which password each simulated device logs in to the broker with:
// one shared demo password, or a file of "device,password" lines such as the installer's
// export of the broker's per-device passwords.
package credentials

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Source gives each device's password. The MQTT username is the device id.
type Source interface {
	Password(device string) (string, error)
}

// Shared gives every device the same password.
type Shared string

// Password implements Source.
func (s Shared) Password(string) (string, error) { return string(s), nil }

// Table holds one password per device.
type Table map[string]string

// Password implements Source; a device missing from the table is an error.
func (t Table) Password(device string) (string, error) {
	p, ok := t[device]
	if !ok {
		return "", fmt.Errorf("credentials: no password for device %q", device)
	}
	return p, nil
}

// Fallback gives a device its own password from Table, or the shared one if it has none.
type Fallback struct {
	Table  Table
	Shared Shared
}

// Password implements Source.
func (f Fallback) Password(device string) (string, error) {
	if p, ok := f.Table[device]; ok {
		return p, nil
	}
	return string(f.Shared), nil
}

// Parse reads "device,password" lines. Blank lines and lines starting with # are skipped;
// spaces around the device are trimmed, the password is taken as is. Every bad line is
// reported, by number.
func Parse(r io.Reader) (Table, error) {
	t := Table{}
	var errs []error
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		dev, pw, ok := strings.Cut(line, ",")
		dev = strings.TrimSpace(dev)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: want device,password", n))
		case dev == "" || pw == "":
			errs = append(errs, fmt.Errorf("line %d: empty device or password", n))
		case t[dev] != "":
			errs = append(errs, fmt.Errorf("line %d: device %q listed twice", n, dev))
		default:
			t[dev] = pw
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return t, nil
}

// Load reads a credentials file.
func Load(path string) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return t, nil
}
