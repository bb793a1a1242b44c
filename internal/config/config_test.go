package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err golden files")

// testEnv is the environment every test file is parsed with.
var testEnv = map[string]string{
	"HERALD_WEBHOOK_PASSWORD": "pw-webhook-1",
	"HERALD_ADMIN_TOKEN":      "tok-admin-2",
	"SLACK_WEBHOOK_URL":       "https://hooks.slack.com/services/T0/B0/sekret3",
	"SLACK_TOKEN":             "xoxb-sekret4",
	"MJ_APIKEY_PUBLIC":        "mjpub5",
	"MJ_APIKEY_PRIVATE":       "mjpriv6",
	"CRM_TOKEN":               "crm-sekret7",
	"CRM_SIGNING":             "sign-sekret8",
	"SECRET":                  "hunter2",
}

// secrets are the values of testEnv that must never be printed.
var secrets = []string{"pw-webhook-1", "tok-admin-2", "sekret3", "sekret4", "mjpub5", "mjpriv6", "sekret7", "sekret8", "hunter2"}

func lookupIn(env map[string]string) LookupFunc {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func parseFile(t *testing.T, name string, env map[string]string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(name, data, lookupIn(env))
}

// public returns c without its unexported bookkeeping, for comparisons.
func public(c *Config) Config {
	p := *c
	p.pos, p.file, p.flags = nil, "", nil
	return p
}

func TestLoadFull(t *testing.T) {
	got, err := parseFile(t, "good-full.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = "127.0.0.1:9090"
	want.Data = "/var/lib/herald"
	want.Rules = "rules.yaml"
	want.Logging = Logging{Level: "debug", Format: "json"}
	want.Webhook = Webhook{
		Path:          "/hooks/mj",
		BasicAuth:     &BasicAuth{Username: "mailjet", Password: "pw-webhook-1"},
		MaxBody:       8 * MiB,
		MaxConcurrent: 32,
		DedupHorizon:  Duration(48 * time.Hour),
	}
	want.Admin.Token = "tok-admin-2"
	want.TLS = &TLS{CertFile: "/etc/herald/cert.pem", KeyFile: "/etc/herald/key.pem"}
	want.Log = LogStream{MaxAge: Duration(14 * 24 * time.Hour), MaxBytes: 20 * GiB, Replicas: 3, Fsync: true, SyncInterval: Duration(10 * time.Second)}
	want.Embedded.Listen = "127.0.0.1:4222"
	want.Cluster.Lease = Duration(30 * time.Second)
	want.HTTP = HTTPTimeouts{
		ReadHeaderTimeout: Duration(2 * time.Second),
		ReadTimeout:       Duration(10 * time.Second),
		WriteTimeout:      Duration(15 * time.Second),
		IdleTimeout:       Duration(time.Minute),
		ShutdownTimeout:   Duration(20 * time.Second),
	}
	want.Connections = map[string]*Connection{
		"slack": {Type: "slack", WebhookURL: "https://hooks.slack.com/services/T0/B0/sekret3"},
		"bot":   {Type: "slack", Token: "xoxb-sekret4", Channel: "#alerts", APIURL: "http://127.0.0.1:1234/api/"},
		"mailjet": {Type: "mailjet", APIKey: "mjpub5", APISecret: "mjpriv6",
			From: Address{Email: "news@example.com", Name: "Example"}, BaseURL: "https://api.mailjet.com", Sandbox: true},
		"crm": {Type: "http", BaseURL: "https://crm.example.com/api",
			Headers: map[string]Secret{"Authorization": "Bearer crm-sekret7"}, SigningSecret: "sign-sekret8", Timeout: Duration(5 * time.Second)},
	}
	if g, w := public(got), public(want); !reflect.DeepEqual(g, w) {
		t.Errorf("got\n%#v\nwant\n%#v", g, w)
		for name, c := range got.Connections {
			if !reflect.DeepEqual(c, want.Connections[name]) {
				t.Errorf("connection %s: got %+v, want %+v", name, *c, *want.Connections[name])
			}
		}
	}
	for name, c := range got.Connections {
		if !c.Configured() {
			t.Errorf("connection %s not configured", name)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.Listen != ":8080" || c.Data != "./data" || c.NATS != "" || c.Rules != "" ||
		c.Webhook.Path != "/webhooks/mailjet" || c.Webhook.MaxBody != 16*MiB || c.Webhook.MaxConcurrent != 64 ||
		c.Webhook.DedupHorizon.D() != 24*time.Hour || c.Log.MaxAge.D() != 168*time.Hour || c.Log.MaxBytes != 10*GiB ||
		c.Log.Replicas != 0 || c.Log.Fsync || c.HTTP.ReadHeaderTimeout.D() != 5*time.Second || c.HTTP.ShutdownTimeout.D() != 25*time.Second ||
		c.Logging != (Logging{"info", "text"}) || c.TLS != nil || c.Webhook.BasicAuth != nil || c.Cluster.Lease.D() != 10*time.Second {
		t.Errorf("unexpected defaults: %+v", c)
	}
	empty, err := parseFile(t, "good-empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := public(empty), public(Default()); !reflect.DeepEqual(g, w) {
		t.Errorf("empty file: got %+v, want defaults %+v", g, w)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

// TestDesignExampleWithoutEnv loads DESIGN §7's example with no variables
// set: it loads, warns, and every connection with credentials runs dry.
func TestDesignExampleWithoutEnv(t *testing.T) {
	c, err := parseFile(t, "good-design.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, conn := range c.Connections {
		if conn.Configured() {
			t.Errorf("connection %s is configured without its variables", name)
		}
	}
	if got, want := c.Connections["crm"].MissingEnv, []string{"CRM_TOKEN"}; !reflect.DeepEqual(got, want) {
		t.Errorf("crm MissingEnv = %v, want %v", got, want)
	}
	want := []string{
		"good-design.yaml:9:16: admin.token: environment variable HERALD_ADMIN_TOKEN is not set",
		"good-design.yaml:11:39: connections.slack.webhook_url: environment variable SLACK_WEBHOOK_URL is not set",
		"good-design.yaml:12:37: connections.mailjet.api_key: environment variable MJ_APIKEY_PUBLIC is not set",
		"good-design.yaml:12:72: connections.mailjet.api_secret: environment variable MJ_APIKEY_PRIVATE is not set",
		"good-design.yaml:15:38: connections.crm.headers.Authorization: environment variable CRM_TOKEN is not set",
		"good-design.yaml:14:12: connection crm references unset environment variables (CRM_TOKEN): its actions run dry",
		"good-design.yaml:12:12: connection mailjet references unset environment variables (MJ_APIKEY_PRIVATE, MJ_APIKEY_PUBLIC): its actions run dry",
		"good-design.yaml:11:12: connection slack references unset environment variables (SLACK_WEBHOOK_URL): its actions run dry",
	}
	if got := c.Warnings; !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBad checks the exact errors of each bad file against testdata/*.err
// (go test -update rewrites them).
func TestBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad-*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/bad-*.yaml")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			_, err := parseFile(t, name, testEnv)
			if err == nil {
				t.Fatal("loaded without error")
			}
			got := err.Error() + "\n"
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("error shows secret %q:\n%s", s, got)
				}
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{
		"TRICKY": "a: b # not a comment\n- [x]",
		"PORT":   "9999",
		"YES":    "true",
		"EMPTY":  "",
	}
	src := `
listen: ":${PORT}"
rules: ${TRICKY}
dry_run: ${YES}
data: "${EMPTY}"
webhook:
  path: /$$x/${MISSING:-fallback}/$y
  max_concurrent: ${PORT}
  max_body: ${UNSET}
admin: {token: '${TRICKY}'}
`
	c, err := Parse("env.yaml", []byte(src), lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"listen", c.Listen, ":9999"},
		{"rules (value with ': ' and '#')", c.Rules, env["TRICKY"]},
		{"data (empty from env keeps default)", c.Data, "./data"},
		{"webhook.path", c.Webhook.Path, "/$x/fallback/$y"},
		{"admin.token", c.Admin.Token.Value(), env["TRICKY"]},
		{"max_body (unset keeps default)", c.Webhook.MaxBody.String(), "16MiB"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if !c.DryRun || c.Webhook.MaxConcurrent != 9999 {
		t.Errorf("dry_run = %v, max_concurrent = %d; want true, 9999", c.DryRun, c.Webhook.MaxConcurrent)
	}
	if want := []string{"env.yaml:9:13: webhook.max_body: environment variable UNSET is not set"}; !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("warnings = %q, want %q", c.Warnings, want)
	}
}

func TestExpand(t *testing.T) {
	env := lookupIn(map[string]string{"A": "x", "E": ""})
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${A}${A}", "xx", ""},
		{"$$A", "$A", ""},
		{"$$${A}", "$x", ""},
		{"cost: 5$", "cost: 5$", ""},
		{"${E:-d}", "d", ""},
		{"${A:-d}", "x", ""},
		{"${A:?}", "x", ""},
		{"${E:?}", "", "environment variable E is not set"},
		{"${NOPE:?needed for x}", "", "environment variable NOPE is not set: needed for x"},
		{"${1A}", "", "invalid environment reference ${1A}"},
		{"${A:+x}", "", "invalid environment reference ${A} (want ${NAME}, ${NAME:-default} or ${NAME:?})"},
		{"${A", "", "unterminated ${ in value"},
	}
	for _, tt := range tests {
		x, err := expand(tt.in, env)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || x.value != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, x.value, err, tt.want)
		}
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  string
	}{
		{"4096", 4096, ""},
		{"0", 0, ""},
		{"512KB", 512000, ""},
		{"512kb", 512000, ""},
		{"16MiB", 16 << 20, ""},
		{"10GiB", 10 << 30, ""},
		{"1.5 GiB", 3 << 29, ""},
		{"2MB", 2_000_000, ""},
		{"1TiB", 1 << 40, ""},
		{"100B", 100, ""},
		{"-1", 0, "must not be negative"},
		{"-5GiB", 0, "must not be negative"},
		{"16XB", 0, "not a size (want bytes or a number with B, KB, MB, GB, KiB, MiB, GiB, …)"},
		{"MiB", 0, "not a size (want bytes or a number with B, KB, MB, GB, KiB, MiB, GiB, …)"},
		{"", 0, "not a size (want bytes or a number with B, KB, MB, GB, KiB, MiB, GiB, …)"},
		{"99999999TiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if msg := errText(err); msg != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %q; want %d, %q", tt.in, got, msg, tt.want, tt.err)
		}
	}
	for _, s := range []Size{16 * MiB, 10 * GiB, 512000, 1536, 0} {
		back, err := ParseSize(s.String())
		if err != nil || back != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s.String(), back, err, s)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90s", 90 * time.Second, ""},
		{"24h", 24 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"0.5d", 12 * time.Hour, ""},
		{"0", 0, ""},
		{"-1h", 0, "must not be negative"},
		{"-7d", 0, "must not be negative"},
		{"7days", 0, `not a duration (want e.g. "90s", "15m", "24h", "7d")`},
		{"d", 0, `not a duration (want e.g. "90s", "15m", "24h", "7d")`},
		{"5", 0, `not a duration (want e.g. "90s", "15m", "24h", "7d")`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if msg := errText(err); msg != tt.err || got.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %q; want %v, %q", tt.in, got.D(), msg, tt.want, tt.err)
		}
	}
	for _, d := range []time.Duration{7 * 24 * time.Hour, 90 * time.Second, 36 * time.Hour} {
		back, err := ParseDuration(Duration(d).String())
		if err != nil || back.D() != d {
			t.Errorf("round trip of %v via %q = %v, %v", d, Duration(d).String(), back.D(), err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSecretsRedacted prints a fully configured Config every way a
// careless caller might and checks that no secret comes out.
func TestSecretsRedacted(t *testing.T) {
	c, err := parseFile(t, "good-full.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(y)
	// A token in a URL's query is not refused by Load; fmt and slog
	// must not print it.
	c.Connections["crm"].BaseURL = "https://crm.example.com/api?key=hunter2"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", c)
		fmt.Fprintf(&out, verb+"\n", *c.Connections["crm"])
		fmt.Fprintf(&out, verb+"\n", c.Admin.Token)
	}
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	for name, conn := range c.Connections {
		logger.Info("connection", "name", name, "conn", conn)
	}
	logger.Info("token", "token", c.Admin.Token, "auth", c.Webhook.BasicAuth)
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("output shows secret %q", s)
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, s) {
					t.Log(line[:min(len(line), 300)])
				}
			}
		}
	}
	for _, want := range []string{`"webhook_url":"[redacted]"`, `"base_url":"https://crm.example.com/api"`, `"headers":["Authorization"]`, `"configured":true`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log output lacks %s", want)
		}
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty secret prints %q, want \"\"", got)
	}
}

func TestOverride(t *testing.T) {
	c, err := parseFile(t, "good-full.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	listen, nats, dry := "127.0.0.1:0", "nats://a:4222,nats://b:4222", true
	if err := c.Override(Overrides{Listen: &listen, NATS: &nats, DryRun: &dry}); err != nil {
		t.Fatal(err)
	}
	if c.Listen != listen || !c.DryRun || c.Data != "/var/lib/herald" {
		t.Errorf("after override: listen %q dry_run %v data %q", c.Listen, c.DryRun, c.Data)
	}
	if got, want := c.NATSURLs(), []string{"nats://a:4222", "nats://b:4222"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NATSURLs = %q, want %q", got, want)
	}
	bad := "nowhere"
	err = c.Override(Overrides{Listen: &bad})
	if got, want := errText(err), `--listen: must be host:port, e.g. ":8080" or "127.0.0.1:8080"`; got != want {
		t.Errorf("bad override error = %q, want %q", got, want)
	}
}
