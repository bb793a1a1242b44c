package engine_test

import (
	"strings"
	"testing"

	"github.com/heraldmail/herald/engine"
)

func TestTemplates(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: slack-escaping
    on: open
    do:
      - slack:
          text: "<!here> {{ email }} & {{ CustomID }}"
          channel: "{{ CustomID }}"
          blocks: [{type: section, text: {type: mrkdwn, text: "*{{ CustomID }}*"}}]
  - name: others-verbatim
    on: open
    do:
      - mailjet: {to: "{{ email }}", template_id: 1, variables: {name: "{{ CustomID }}"}}
      - http: {path: "/c/{{ urlquery(CustomID) }}", json: {id: "{{ CustomID }}"}}
  - name: typed
    on: click
    do:
      - http:
          path: /typed
          json:
            int: "{{ MessageID }}"
            bool: "{{ hard_bounce }}"
            float: "{{ 1.5 }}"
            time: "{{ received }}"
            now: "{{ now() }}"
            dur: "{{ duration(\"1h30m\") }}"
            map: "{{ payload }}"
            list: "{{ [1, \"a\"] }}"
            null: "{{ nil }}"
            number: 4242
            quoted: "4242"
            yes: true
            plain: hello
            mixed: "{{ MessageID }}/{{ hard_bounce }}/{{ received }}/{{ 1.5 }}/{{ payload }}/{{ nil }}/{{ duration(\"90s\") }}"
`, []scenario{{
		name:  "slack values are escaped, literal text is not, other actions are verbatim",
		steps: []step{ev("0s", "open", 1, "a@x.com", "CustomID", "<!channel> & co")},
		want: []string{
			`slack-escaping@0s#1 key="" email=a@x.com slack{"blocks":[{"text":{"text":"*&lt;!channel&gt; &amp; co*","type":"mrkdwn"},"type":"section"}],"channel":"&lt;!channel&gt; &amp; co","text":"<!here> a@x.com & &lt;!channel&gt; &amp; co"}`,
			`others-verbatim@0s#1 key="" email=a@x.com mailjet{"template_id":1,"to":"a@x.com","variables":{"name":"<!channel> & co"}} http{"json":{"id":"<!channel> & co"},"path":"/c/%3C%21channel%3E+%26+co"}`,
		},
	}, {
		name: "a whole expression keeps its type",
		steps: []step{ev("1h", "click", 123456789012345678, "a@x.com", "hard_bounce", "true",
			"Payload", `{"shop":"s1","n":2}`)},
		want: []string{
			`typed@1h#1 key="" email=a@x.com http{"json":{"bool":true,"dur":"1h30m0s","float":1.5,"int":123456789012345678,"list":[1,"a"],"map":{"n":2,"shop":"s1"},"mixed":"123456789012345678/true/2025-03-01T01:00:00Z/1.5/{\"n\":2,\"shop\":\"s1\"}//1m30s","now":"2025-03-01T01:00:00Z","null":null,"number":4242,"plain":"hello","quoted":"4242","time":"2025-03-01T01:00:00Z","yes":true},"path":"/typed"}`,
		},
	}})
}

func TestTemplateHelpers(t *testing.T) {
	runScenarios(t, `version: 1
vars: {ratio: 0.25}
rules:
  - name: helpers
    on: bounce
    do:
      - slack:
          text: "{{ percent(0.634) }} {{ percent(1) }} {{ percent(vars.ratio) }} {{ urlquery(\"a b&c/d\") }} {{ lower(email) }} {{ upper(error) }} {{ \"}}\" }} {x}"
`, []scenario{{
		name:  "percent, urlquery, lower, upper, a quoted }}",
		steps: []step{ev("0s", "bounce", 1, "Ann@X.com", "error", "user unknown")},
		want: []string{
			`helpers@0s#1 key="" email=Ann@X.com slack{"text":"63.4% 100% 25% a+b%26c%2Fd ann@x.com USER UNKNOWN }} {x}"}`,
		},
	}})
}

// Slack escaping must reach values from events that are not strings: a
// whole {{ expr }} that is a map or a list keeps its type, and the strings
// inside it must be escaped too.
func TestSlackEscapingOfMapsAndLists(t *testing.T) {
	e := engine.New(parse(t, `version: 1
rules:
  - name: leak
    on: open
    do: [slack: {text: "{{ payload }}", channel: "{{ [CustomID] }}"}]
`), engine.Options{})
	fs := feed(e, ev("0s", "open", 1, "a@x.com", "CustomID", "<!channel>", "Payload", `{"a": "<!here> & co"}`), 1)
	if len(fs) != 1 {
		t.Fatalf("%d firings", len(fs))
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if strings.ContainsAny(x, "<>") {
				t.Errorf("unescaped slack value %q", x)
			}
		case map[string]any:
			for _, item := range x {
				walk(item)
			}
		case []any:
			for _, item := range x {
				walk(item)
			}
		}
	}
	walk(params(t, fs[0].Actions[0]))
}

func TestActionConnectionAndSuppression(t *testing.T) {
	runScenarios(t, `version: 1
rules:
  - name: actions
    on: unsub
    do:
      - mailjet: {to: "{{ email }}", template_id: 9, ignore_suppression: true}
      - mailjet: {connection: transactional, to: "{{ email }}", template_id: 10}
      - http: {connection: crm, path: /x, ignore_suppression: false}
`, []scenario{{
		name:  "connection and ignore_suppression are not parameters",
		steps: []step{ev("0s", "unsub", 1, "a@x.com")},
		want: []string{
			`actions@0s#1 key="" email=a@x.com mailjet!{"template_id":9,"to":"a@x.com"} mailjet(transactional){"template_id":10,"to":"a@x.com"} http(crm){"path":"/x"}`,
		},
	}})
}
