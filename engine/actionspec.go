package engine

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Action kinds.
const (
	ActionMailjet = "mailjet"
	ActionSlack   = "slack"
	ActionHTTP    = "http"
)

// actionParams lists the parameters each action kind takes (DESIGN §7).
// connection and ignore_suppression are common and not templates.
var actionParams = map[string][]string{
	ActionMailjet: {"to", "template_id", "subject", "text", "html", "variables", "custom_id", "event_payload", "template_language"},
	ActionSlack:   {"text", "blocks", "channel", "username", "icon_emoji"},
	ActionHTTP:    {"method", "path", "query", "json", "form", "headers"},
}

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// actionSpec is one compiled action of a rule.
type actionSpec struct {
	kind              string
	connection        string
	ignoreSuppression bool
	params            *value
	size              int // a guess of the params' length as JSON
}

// render evaluates the action's templates for one firing. The params'
// JSON is cut from a buffer of r's that later firings' params go on
// filling (never overwriting it), so most firings allocate nothing for it.
func (a *actionSpec) render(r *renderer, e *env) (Action, error) {
	r.escape = nil
	if a.kind == ActionSlack {
		r.escape = slackEscape
	}
	r.reserve(a.size)
	start := len(r.out)
	out, err := a.params.appendJSON(r.out, r, e)
	if err != nil {
		r.out = out[:start]
		return Action{}, fmt.Errorf("%s action: %w", a.kind, err)
	}
	r.out = out
	return Action{Kind: a.kind, Connection: a.connection, Params: out[start:len(out):len(out)],
		IgnoreSuppression: a.ignoreSuppression}, nil
}

// compileActions compiles a `do` or `on_resolve` list.
func (p *ruleParser) compileActions(n *yaml.Node, key string, sc scope) []*actionSpec {
	if n.Kind != yaml.SequenceNode {
		p.errs.at(n, p.name, key, "must be a list of actions, e.g. - slack: {text: ...}")
		return nil
	}
	var out []*actionSpec
	for i, item := range n.Content {
		k := fmt.Sprintf("%s[%d]", key, i)
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			p.errs.at(item, p.name, k, "an action is one of mailjet:, slack: or http: with its parameters")
			continue
		}
		if a := p.compileAction(item.Content[0], item.Content[1], k, sc); a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (p *ruleParser) compileAction(kn, vn *yaml.Node, key string, sc scope) *actionSpec {
	kind := kn.Value
	allowed, ok := actionParams[kind]
	if !ok {
		p.errs.at(kn, p.name, key, "unknown action %q (want mailjet, slack or http)", kind)
		return nil
	}
	key += "." + kind
	if vn.Kind != yaml.MappingNode {
		p.errs.at(vn, p.name, key, "parameters must be a mapping")
		return nil
	}
	a := &actionSpec{kind: kind, connection: kind}
	connNode := kn
	params := &yaml.Node{Kind: yaml.MappingNode}
	have := map[string]*yaml.Node{}
	for i := 0; i+1 < len(vn.Content); i += 2 {
		k, v := vn.Content[i], vn.Content[i+1]
		switch {
		case k.Value == "connection":
			a.connection = p.scalarString(v, key+".connection")
			connNode = v
		case k.Value == "ignore_suppression":
			a.ignoreSuppression = p.boolean(v, key+".ignore_suppression")
		case contains(allowed, k.Value):
			params.Content = append(params.Content, k, v)
			have[k.Value] = v
		default:
			p.errs.at(k, p.name, key, "unknown parameter %q (%s takes %s)", k.Value, kind, strings.Join(sorted(allowed), ", "))
		}
	}
	p.checkRequired(vn, key, kind, have)
	p.checkConnection(connNode, key, a)
	a.params = p.c.compileValue(params, key, sc)
	a.size = a.params.size()
	return a
}

// checkRequired reports missing or conflicting parameters.
func (p *ruleParser) checkRequired(n *yaml.Node, key, kind string, have map[string]*yaml.Node) {
	switch kind {
	case ActionMailjet:
		if have["to"] == nil {
			p.errs.at(n, p.name, key, "to is required")
		}
		if have["template_id"] == nil && have["subject"] == nil {
			p.errs.at(n, p.name, key, "give template_id, or subject with text or html")
		}
		if have["subject"] != nil && have["text"] == nil && have["html"] == nil {
			p.errs.at(n, p.name, key, "subject needs text or html")
		}
		if have["template_id"] != nil && (have["text"] != nil || have["html"] != nil) {
			p.errs.at(n, p.name, key, "a template brings its own content: give template_id, or text/html, not both")
		}
	case ActionSlack:
		if have["text"] == nil && have["blocks"] == nil {
			p.errs.at(n, p.name, key, "text (or blocks) is required")
		}
	case ActionHTTP:
		if have["path"] == nil {
			p.errs.at(n, p.name, key, "path is required (the URL's host comes from the connection)")
		}
		if have["json"] != nil && have["form"] != nil {
			p.errs.at(have["form"], p.name, key, "give json or form, not both")
		}
		if m := have["method"]; m != nil && !strings.Contains(m.Value, "{{") && !httpMethods[strings.ToUpper(m.Value)] {
			p.errs.at(m, p.name, key+".method", "unknown method %q (want GET, POST, PUT, PATCH or DELETE)", m.Value)
		}
	}
}

// checkConnection reports a connection that herald.yaml does not define or
// that is of another type. Without connections (herald check without
// --config) names are not checked.
func (p *ruleParser) checkConnection(n *yaml.Node, key string, a *actionSpec) {
	if p.opt.Connections == nil {
		return
	}
	typ, ok := p.opt.Connections[a.connection]
	switch {
	case !ok && a.connection == a.kind:
		// The default connection is optional: without it the action runs dry.
	case !ok:
		p.errs.at(n, p.name, key+".connection", "unknown connection %q (herald.yaml defines %s)", a.connection, strings.Join(sortedKeys(p.opt.Connections), ", "))
	case typ != a.kind:
		p.errs.at(n, p.name, key+".connection", "connection %q is of type %s, not %s", a.connection, typ, a.kind)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
