package server

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Secrets Manager, awsJson1_1; member names Pascal case. Secret values are
// never logged or put into error messages.

type smState struct {
	Secrets []*smSecret `json:"secrets"`
}

type smSecret struct {
	Meta         smMeta `json:"meta"`
	SecretString string `json:"secretString"`
	VersionID    string `json:"versionId"`
}

type smMeta struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            string              `json:"Description,omitempty"`
	LastChangedDate        time.Time           `json:"LastChangedDate"`
	LastAccessedDate       time.Time           `json:"LastAccessedDate,omitempty"`
	CreatedDate            time.Time           `json:"CreatedDate"`
	Tags                   []smTag             `json:"Tags"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages"`
	RotationEnabled        bool                `json:"RotationEnabled"`
}

type smTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func secretsService() *service {
	return &service{
		name:         "secretsmanager",
		signingName:  "secretsmanager",
		targetPrefix: "secretsmanager",
		ops: map[string]handler{
			"ListSecrets":    op(smListSecrets),
			"DescribeSecret": op(smDescribeSecret),
			"GetSecretValue": op(smGetSecretValue),
		},
	}
}

// secretArn is the ARN of layering-detection/<env>/<name>, with the random
// six-character suffix Secrets Manager adds (stable here).
func (st *State) secretArn(name string) string {
	full := appName + "/" + seedEnv + "/" + name
	return st.arn("secretsmanager", "secret:"+full+"-"+hexID(full, 6))
}

// findSecret accepts a name, a full ARN or a partial ARN (without the suffix).
func (st *State) findSecret(id string) (*smSecret, *apiError) {
	if id == "" {
		return nil, badRequest("InvalidParameterException", "You must provide a SecretId.")
	}
	for _, s := range st.SM.Secrets {
		if s.Meta.Name == id || s.Meta.ARN == id || strings.TrimSuffix(s.Meta.ARN, s.Meta.ARN[len(s.Meta.ARN)-7:]) == id {
			return s, nil
		}
	}
	return nil, badRequest("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

type smListSecretsIn struct {
	MaxResults int    `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
	Filters    []struct {
		Key    string   `json:"Key"`
		Values []string `json:"Values"`
	} `json:"Filters"`
	SortOrder string `json:"SortOrder"`
}

func smListSecrets(s *Server, c *call, in *smListSecretsIn) (any, error) {
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, badRequest("InvalidParameterException", "MaxResults must be between 1 and 100.")
	}
	var out []smMeta
	for _, sec := range s.st.SM.Secrets {
		ok := true
		for _, f := range in.Filters {
			var fields []string
			switch f.Key {
			case "name":
				fields = []string{sec.Meta.Name}
			case "description":
				fields = []string{sec.Meta.Description}
			case "tag-key", "tag-value":
				for _, t := range sec.Meta.Tags {
					fields = append(fields, map[bool]string{true: t.Key, false: t.Value}[f.Key == "tag-key"])
				}
			case "all":
				fields = []string{sec.Meta.Name, sec.Meta.Description}
			default:
				return nil, badRequest("InvalidParameterException", "Invalid filter key %q: name, description, tag-key, tag-value or all.", f.Key)
			}
			ok = ok && slices.ContainsFunc(f.Values, func(v string) bool {
				return slices.ContainsFunc(fields, func(x string) bool { return strings.HasPrefix(x, v) })
			})
		}
		if ok {
			out = append(out, sec.Meta)
		}
	}
	if in.SortOrder == "desc" {
		slices.Reverse(out)
	}
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.MaxResults, 100, 100))
	if !ok {
		return nil, badRequest("InvalidNextTokenException", "The NextToken value is invalid.")
	}
	return struct {
		SecretList []smMeta `json:"SecretList"`
		NextToken  string   `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type smSecretIDIn struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string `json:"VersionStage"`
}

func smDescribeSecret(s *Server, c *call, in *smSecretIDIn) (any, error) {
	sec, err := s.st.findSecret(in.SecretID)
	if err != nil {
		return nil, err
	}
	return struct {
		smMeta
		VersionIdsToStages map[string][]string `json:"VersionIdsToStages"`
	}{sec.Meta, sec.Meta.SecretVersionsToStages}, nil
}

func smGetSecretValue(s *Server, c *call, in *smSecretIDIn) (any, error) {
	sec, err := s.st.findSecret(in.SecretID)
	if err != nil {
		return nil, err
	}
	if (in.VersionID != "" && in.VersionID != sec.VersionID) || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT") {
		return nil, badRequest("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId or VersionStage.")
	}
	sec.Meta.LastAccessedDate = c.now.Truncate(24 * time.Hour)
	c.dirty = true
	return struct {
		ARN           string    `json:"ARN"`
		Name          string    `json:"Name"`
		VersionID     string    `json:"VersionId"`
		SecretString  string    `json:"SecretString"`
		VersionStages []string  `json:"VersionStages"`
		CreatedDate   time.Time `json:"CreatedDate"`
	}{sec.Meta.ARN, sec.Meta.Name, sec.VersionID, sec.SecretString, []string{"AWSCURRENT"}, sec.Meta.LastChangedDate}, nil
}

// seedSecrets creates the two secrets with fresh random values: JSON
// {"api_key": …} and {"salt": …}, as the task definitions read them.
func (st *State) seedSecrets(created time.Time) {
	for _, s := range []struct{ name, key string }{{"api-key", "api_key"}, {"pseudonymization-salt", "salt"}} {
		full := appName + "/" + seedEnv + "/" + s.name
		version := hexID(full+"v1", 8) + "-" + hexID(full+"v2", 4) + "-4000-8000-" + hexID(full+"v3", 12)
		st.SM.Secrets = append(st.SM.Secrets, &smSecret{
			Meta: smMeta{ARN: st.secretArn(s.name), Name: full, Description: "layering-detection " + seedEnv + " " + s.name,
				LastChangedDate: created, CreatedDate: created, Tags: []smTag{{Key: "Application", Value: appName}},
				SecretVersionsToStages: map[string][]string{version: {"AWSCURRENT"}}},
			SecretString: `{"` + s.key + `":"` + randomHex(32) + `"}`, VersionID: version,
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
