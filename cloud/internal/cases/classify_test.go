package cases

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
)

func TestClassifierRule(t *testing.T) {
	c := DefaultClassifier()
	tests := []struct {
		family, typ, code string
		want              string
		pr                api.Priority
	}{
		{"callbutton", "sos", "", "老人求助", api.Urgent},
		{"callbutton", "fall", "", "老人求助", api.Urgent},
		{"charger", "smoke", "", "消防隐患", api.Urgent},
		{"charger", "over_temperature", "", "消防隐患", api.Urgent},
		{"charger", "fault", "HighTemperature", "消防隐患", api.Urgent},
		{"charger", "fault", "GroundFailure", "电动车充电设施", api.Normal},
		{"locker", "tamper", "", "智能快递柜", api.Normal},
		{"callbutton", "tamper", "", "其他", api.Normal},
		{"", "unknown", "", "其他", api.Normal},
	}
	for _, tt := range tests {
		r := c.Rule(tt.family, tt.typ, tt.code)
		if r.Category.SubclassName != tt.want || r.Priority != tt.pr {
			t.Errorf("%s.%s:%s = %s %s, want %s %s", tt.family, tt.typ, tt.code, r.Category.SubclassName, r.Priority, tt.want, tt.pr)
		}
	}
	custom := c.Merge(Classifier{"sos": {Category: catOther, Priority: api.Normal}})
	if custom.Rule("callbutton", "sos", "").Category != catOther || c.Rule("", "sos", "").Category != catElderlyHelp {
		t.Error("merge did not override, or changed the default")
	}
	if errs := DefaultClassifier().Validate(); len(errs) != 0 {
		t.Errorf("default classifier invalid: %v", errs)
	}
	bad := Classifier{"x": {Category: api.Category{Kind: "thing", Class: "1", Subclass: "ab"}, Priority: "asap"}}
	if errs := bad.Validate(); len(errs) != 4 {
		t.Errorf("bad classifier: %d errors %v", len(errs), errs)
	}
}

func TestFromAlert(t *testing.T) {
	c := DefaultClassifier()
	res := &api.Resident{Name: "张三", Phone: "13800000000", Unit: "3-2-501", MedicalNotes: "高血压"}
	base := api.Alert{AlarmID: "a1", Type: "sos", Family: "callbutton", OccurredAt: time.Now(),
		Site: "幸福小区", GridCode: "110105001002003", Resident: res}

	got, err := c.FromAlert("gw", base)
	if err != nil || got.Resident.MedicalNotes != "高血压" || got.Priority != api.Urgent {
		t.Fatalf("sos: %v %+v", err, got)
	}
	smoke := base
	smoke.Type, smoke.Family, smoke.Priority = "smoke", "charger", api.Normal
	got, err = c.FromAlert("gw", smoke)
	if err != nil || got.Resident.MedicalNotes != "" || got.Resident.Name != "张三" || got.Priority != api.Normal {
		t.Fatalf("smoke: %v %+v", err, got.Resident)
	}
	if res.MedicalNotes != "高血压" {
		t.Fatal("FromAlert changed the caller's resident")
	}

	bad := base
	bad.GridCode, bad.AlarmID, bad.Priority, bad.Site = "11010500100200", "", "asap", ""
	bad.Location = &api.Location{Lat: 91}
	_, err = c.FromAlert("gw", bad)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, key := range []string{"alarm_id", "grid_code", "priority", "site", "location"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	long := base
	long.Description = strings.Repeat("火", 1000)
	got, _ = c.FromAlert("gw", long)
	if len(got.Description) > 2000 || !strings.HasPrefix(long.Description, got.Description) {
		t.Fatalf("clipped description: %d bytes, valid prefix %v", len(got.Description), strings.HasPrefix(long.Description, got.Description))
	}
}

func TestValidGridCode(t *testing.T) {
	for s, want := range map[string]bool{"110105001002003": true, "11010500100200": false, "1101050010020031": false, "11010500100200x": false, "": false} {
		if ValidGridCode(s) != want {
			t.Errorf("ValidGridCode(%q) != %v", s, want)
		}
	}
}
