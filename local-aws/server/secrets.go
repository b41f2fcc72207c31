package server

type smState struct{}

func secretsService() *service { return &service{name: "secrets", ops: map[string]handler{}} }

// secretArn is the ARN of layering-detection/<env>/<name>, with the random
// six-character suffix Secrets Manager adds (stable here).
func (st *State) secretArn(name string) string {
	full := appName + "/" + seedEnv + "/" + name
	return st.arn("secretsmanager", "secret:"+full+"-"+hexID(full, 6))
}

func (st *State) seedSecrets(created interface{}) {}
