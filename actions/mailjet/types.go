package mailjet

// Wire types of the Send API v3.1, with Mailjet's field names.

type sendRequest struct {
	Messages    []message `json:"Messages"`
	SandboxMode bool      `json:"SandboxMode,omitempty"`
}

type message struct {
	From             address        `json:"From"`
	To               []address      `json:"To"`
	Subject          string         `json:"Subject,omitempty"`
	TextPart         string         `json:"TextPart,omitempty"`
	HTMLPart         string         `json:"HTMLPart,omitempty"`
	TemplateID       int64          `json:"TemplateID,omitempty"`
	TemplateLanguage bool           `json:"TemplateLanguage,omitempty"`
	Variables        map[string]any `json:"Variables,omitempty"`
	CustomID         string         `json:"CustomID,omitempty"`
	EventPayload     string         `json:"EventPayload,omitempty"`
}

type address struct {
	Email string `json:"Email"`
	Name  string `json:"Name,omitempty"`
}

// sendResponse lists one result per message, in the order sent.
type sendResponse struct {
	Messages []messageResult `json:"Messages"`
}

type messageResult struct {
	Status   string         `json:"Status"` // "success" or "error"
	CustomID string         `json:"CustomID"`
	To       []sentTo       `json:"To"`
	Errors   []messageError `json:"Errors"`
}

type sentTo struct {
	Email       string `json:"Email"`
	MessageUUID string `json:"MessageUUID"`
	MessageID   int64  `json:"MessageID"` // above 2^53: never through float64
}

type messageError struct {
	ErrorIdentifier string   `json:"ErrorIdentifier"`
	ErrorCode       string   `json:"ErrorCode"`
	StatusCode      int      `json:"StatusCode"`
	ErrorMessage    string   `json:"ErrorMessage"`
	ErrorRelatedTo  []string `json:"ErrorRelatedTo"`
}
