package backup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvFileName is the secrets file beside the configuration that the packaged service reads
// (systemd EnvironmentFile=/etc/community-gateway/environment): GATEWAY_DATA_KEY,
// GATEWAY_CLOUD_KEY and the like. It goes into the archive as config/environment.
const EnvFileName = "environment"

// maxEnvFile bounds an environment file held in memory.
const maxEnvFile = 1 << 20

// ParseEnvFile reads NAME=value lines as systemd's EnvironmentFile does for the simple cases:
// blank lines and lines starting with # or ; are skipped, a value may be in single or double
// quotes.
func ParseEnvFile(raw []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out[strings.TrimSpace(name)] = value
	}
	return out
}

// Getenv returns a lookup of environment variables that falls back to the environment file
// beside the configuration file, so that an administrator's shell sees the secrets the
// service sees. A missing file is no error.
func Getenv(cfgPath string, getenv func(string) string) (func(string) string, error) {
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), EnvFileName))
	if os.IsNotExist(err) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return chain(getenv, ParseEnvFile(raw)), nil
}

func chain(getenv func(string) string, file map[string]string) func(string) string {
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return file[name]
	}
}
