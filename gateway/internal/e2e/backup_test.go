package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/load"
	"github.com/community-edge/edge/gateway/internal/backup"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// gatewayCmd runs one of the gateway's commands and returns its exit code and output.
func gatewayCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(gatewayBin, args...)
	cmd.Env = append(os.Environ(), "E2E_BROKER_PASSWORD="+gwPassword)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("gateway %v: %v", args, err)
	}
	return 0, string(out)
}

// snapshotState is what a backup's database snapshot holds, read straight from it.
type snapshotState struct {
	manifest *backup.Manifest
	alarms   map[string]string // id → state
	users    []string
	devices  []string
	events   int64
	resident map[string]string // device → its stored (sealed) resident card
}

// readArchive verifies an archive with the reader restore uses and opens its database.
func readArchive(t *testing.T, path string) snapshotState {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dbPath := filepath.Join(t.TempDir(), "snapshot.db")
	m, err := backup.Read(f, nil, func(e backup.Entry, r io.Reader) error {
		if e.Name != backup.DBEntry {
			_, err := io.Copy(io.Discard, r)
			return err
		}
		out, err := os.Create(dbPath)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := snapshotState{manifest: m, alarms: map[string]string{}, resident: map[string]string{}}
	rows, err := db.Query(`SELECT id, state FROM alarms`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, state string
		rows.Scan(&id, &state)
		s.alarms[id] = state
	}
	rows.Close()
	for q, dst := range map[string]*[]string{`SELECT name FROM users ORDER BY name`: &s.users, `SELECT id FROM devices ORDER BY id`: &s.devices} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			*dst = append(*dst, v)
		}
		rows.Close()
	}
	rows, err = db.Query(`SELECT id, resident FROM devices WHERE resident != ''`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, r string
		rows.Scan(&id, &r)
		s.resident[id] = r
	}
	rows.Close()
	if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&s.events); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBackupUnderLoadRestoresOnAReplacementBox takes a backup with the gateway's command while
// a running gateway stores events and telemetry from 30 simulated devices, after users were
// added, a device with a resident's medical notes was provisioned and an SOS raised and
// acknowledged. The archive is restored onto a "replacement box" (another configuration with
// another data directory and ports) and a gateway started there: it has the same devices (the
// notes readable, so the data key came along), users who log in with the same passwords, and
// the same alarms with the same ids and states as the snapshot.
func TestBackupUnderLoadRestoresOnAReplacementBox(t *testing.T) {
	fl, err := testenv.NewFleet(30)
	if err != nil {
		t.Fatal(err)
	}
	devs := []testDevice{fleet()[0], fleet()[2]} // the resident's call button and a locker; no 1 s heartbeats
	env := &brokerEnv{mode: "embedded"}
	gw := newGateway(t, env, devs, fl.DeviceItems())

	// State that lives only in the database: a user, a provisioned device with sealed notes,
	// an acknowledged alarm.
	gw.addUser("alice", "duty", "alice-duty-password-2025")
	gw.addUser("bob", "installer", "bob-installer-password-2025")
	const notes = "糖尿病，胰岛素每日两次；对青霉素过敏"
	if code, body := gw.do("POST", "/api/v1/devices", `{"id":"cb-prov-1","family":"callbutton","name":"新装呼叫器",
		"location":{"building":"7","unit":"1","room":"302"},"heartbeat_interval":"1h",
		"resident":{"name":"李桂兰","age":85,"medical_notes":"`+notes+`","lives_alone":true}}`); code != 201 {
		t.Fatalf("add device: %d %s", code, body)
	}
	cb := mustConnect(t, env.addr, devs[0], false)
	cb.publish("event", sosPayload("backup-sos-1"), false)
	sos := gw.openAlarm("cb-0001", "sos")
	if code, body := gw.do("POST", "/api/v1/alarms/"+sos.ID+"/ack", ""); code != 200 {
		t.Fatalf("ack: %d %s", code, body)
	}

	// Load: events (some raise alarms) and telemetry from 30 devices, QoS 1, through the backup.
	gen, err := load.New(load.Config{Broker: "tcp://" + env.addr, Site: site, Devices: len(fl.Members), Rate: 400, Duration: 8 * time.Second,
		QoS: 1, EventRatio: 0.2, Credentials: credentials.Shared(testenv.BenchDevicePassword), Seed: 7}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	repc := make(chan load.Report, 1)
	go func() {
		rep, err := gen.Run(context.Background())
		if err != nil {
			t.Errorf("load: %v", err)
		}
		repc <- rep
	}()
	eventually(t, 15*time.Second, func() (bool, string) {
		n := gw.metric("gateway_mqtt_messages_total", `kind="event"`)
		return n >= 100, fmt.Sprintf("%v load events stored", n)
	})
	before := gw.metric("gateway_mqtt_messages_total", `kind="event"`)
	archive := filepath.Join(t.TempDir(), "site-backup.tar.gz")
	code, out := gatewayCmd(t, "backup", "-config", gw.cfgPath, archive)
	if code != 0 {
		t.Fatalf("gateway backup: exit %d\n%s", code, out)
	}
	t.Logf("gateway backup:\n%s", out)
	select {
	case rep := <-repc:
		t.Fatalf("the load ended (%s) before the backup did: not a backup under load", rep)
	default:
	}
	rep := <-repc
	t.Logf("load: %s", rep)
	for _, want := range []string{"HOLDS SECRETS", "data/data.key", "gateway.db", "config/gateway.yaml", "time-series spool", "users", "alarms"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q", want)
		}
	}
	if fi, err := os.Stat(archive); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	snap := readArchive(t, archive)
	m := snap.manifest
	if m.Counts.Devices != int64(len(snap.devices)) || m.Counts.Users != int64(len(snap.users)) || m.Counts.Alarms != int64(len(snap.alarms)) || m.Counts.Events != snap.events {
		t.Fatalf("manifest counts %+v disagree with the snapshot: %d devices, %d users, %d alarms, %d events",
			m.Counts, len(snap.devices), len(snap.users), len(snap.alarms), snap.events)
	}
	if m.Counts.Devices != 33 || !slices.Equal(snap.users, []string{"alice", "bob"}) || snap.alarms[sos.ID] != "acknowledged" || len(snap.alarms) < 2 {
		t.Fatalf("snapshot: %d devices, users %v, %d alarms (sos %s: %q)", m.Counts.Devices, snap.users, len(snap.alarms), sos.ID, snap.alarms[sos.ID])
	}
	if r := snap.resident["cb-prov-1"]; r == "" || strings.Contains(r, "胰岛素") {
		t.Fatalf("the provisioned resident's card is stored as %q: want it sealed", r)
	}

	// Refused on the running gateway's own data directory, -force or not.
	for _, args := range [][]string{{"restore", "-config", gw.cfgPath, archive}, {"restore", "-force", "-config", gw.cfgPath, archive}} {
		if code, out := gatewayCmd(t, args...); code == 0 || !strings.Contains(out, "a gateway is running on") {
			t.Errorf("gateway %v on a running gateway: exit %d\n%s", args, code, out)
		}
	}
	// Nor does a second gateway start on the same data directory.
	if code, out := gatewayCmd(t, "run", "-config", gw.cfgPath); code == 0 || !strings.Contains(out, "a gateway is running on this data directory") {
		t.Errorf("a second gateway on the same data directory: exit %d\n%s", code, out)
	}
	// The old box went on storing after the snapshot (it was taken mid-load, of one state).
	gw.stop(syscall.SIGTERM)
	if final := countEvents(t, daemonDB(gw.cfgPath)); snap.events < int64(before) || final <= snap.events {
		t.Fatalf("events: %v stored before the backup began, %d in the snapshot, %d on the old box at the end: want before ≤ snapshot < end",
			before, snap.events, final)
	}

	// The replacement box: its own configuration (another data directory and ports), nothing else.
	box := t.TempDir()
	raw, err := os.ReadFile(gw.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	oldData := filepath.Join(filepath.Dir(gw.cfgPath), "data")
	newHTTP, newBroker := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgB := strings.NewReplacer("data_dir: "+oldData, "data_dir: "+filepath.Join(box, "data"), gw.http, newHTTP, env.addr, newBroker).Replace(string(raw))
	if cfgB == string(raw) || strings.Contains(cfgB, oldData) {
		t.Fatalf("the replacement configuration still points at the old box:\n%s", cfgB)
	}
	cfgPathB := filepath.Join(box, "gateway.yaml")
	if err := os.WriteFile(cfgPathB, []byte(cfgB), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = gatewayCmd(t, "restore", "-config", cfgPathB, archive)
	if code != 0 {
		t.Fatalf("gateway restore: exit %d\n%s", code, out)
	}
	t.Logf("gateway restore:\n%s", out)
	for _, want := range []string{"integrity_check ok", "configuration kept", fmt.Sprintf("%d devices, %d users, %d alarms", m.Counts.Devices, m.Counts.Users, m.Counts.Alarms)} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q", want)
		}
	}
	for _, f := range []string{"gateway.db", "data.key"} {
		if fi, err := os.Stat(filepath.Join(box, "data", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("restored %s: %v, want mode 0600", f, err)
		}
	}
	// A second restore is refused: there is a database now.
	if code, out := gatewayCmd(t, "restore", "-config", cfgPathB, archive); code != 3 || !strings.Contains(out, "use -force") {
		t.Errorf("restore over a restored database without -force: exit %d\n%s", code, out)
	}

	gwB := &gateway{t: t, cfgPath: cfgPathB, http: newHTTP, env: &brokerEnv{mode: "embedded", addr: newBroker}}
	gwB.start()
	t.Cleanup(func() {
		gwB.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("replacement gateway log:\n%s", gwB.log.String())
		}
	})

	// Same devices, the resident's notes readable with the restored key.
	var list struct {
		Devices []deviceJSON `json:"devices"`
	}
	if code := gwB.get("/api/v1/devices", &list); code != 200 || int64(len(list.Devices)) != m.Counts.Devices {
		t.Fatalf("replacement box lists %d devices (status %d), the snapshot had %d", len(list.Devices), code, m.Counts.Devices)
	}
	if d := gwB.device("cb-prov-1").Device; d.Resident == nil || d.Resident.MedicalNotes != notes {
		t.Fatalf("provisioned resident on the replacement box: %+v", d.Resident)
	}
	// Same users, same passwords.
	for user, pw := range map[string]string{"alice": "alice-duty-password-2025", "bob": "bob-installer-password-2025"} {
		code, body := gwB.do("POST", "/api/v1/login", fmt.Sprintf(`{"user":%q,"password":%q}`, user, pw))
		if code != 200 {
			t.Errorf("login %s on the replacement box: %d %s", user, code, body)
		}
	}
	if code, _ := gwB.do("POST", "/api/v1/login", `{"user":"alice","password":"not-her-password-at-all"}`); code != 401 {
		t.Errorf("a wrong password was answered %d, want 401", code)
	}
	// Same alarms, ids and states.
	got := map[string]string{}
	for _, a := range gwB.alarms("state=all&limit=1000") {
		got[a.ID] = a.State
	}
	if len(got) != len(snap.alarms) {
		t.Errorf("replacement box has %d alarms, the snapshot %d", len(got), len(snap.alarms))
	}
	for id, state := range snap.alarms {
		if got[id] != state {
			t.Errorf("alarm %s: %q on the replacement box, %q in the snapshot", id, got[id], state)
		}
	}
	t.Logf("restored %d devices, %d users, %d alarms (%d open), %d events of site %s; %d load messages acked",
		m.Counts.Devices, m.Counts.Users, m.Counts.Alarms, m.Counts.OpenAlarms, m.Counts.Events, m.Site.Code, rep.Acked)
}

// daemonDB is the database of a test gateway's configuration (data_dir: <its dir>/data).
func daemonDB(cfgPath string) string {
	return filepath.Join(filepath.Dir(cfgPath), "data", "gateway.db")
}

func countEvents(t *testing.T, dbPath string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
