package engine

import (
	"strings"
	"testing"
)

// Mailjet refuses a message with a template and inline content; so does
// herald check, rather than every send failing later.
func TestMailjetTemplateAndTextRefused(t *testing.T) {
	_, err := Parse("r.yaml", []byte(`version: 1
rules:
  - name: x
    on: open
    do: [{mailjet: {to: a@x.com, template_id: 1, text: hi}}]
`), ParseOptions{})
	if err == nil || !strings.Contains(err.Error(), `r.yaml:5:20: rule "x": do[0].mailjet: a template brings its own content`) {
		t.Fatalf("err = %v", err)
	}
}
