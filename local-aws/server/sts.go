package server

// STS, awsquery: only who am I.

func stsService() *service {
	return &service{
		name:        "sts",
		signingName: "sts",
		xmlns:       "https://sts.amazonaws.com/doc/2011-06-15/",
		ops:         map[string]handler{"GetCallerIdentity": op(stsGetCallerIdentity)},
	}
}

type stsGetCallerIdentityIn struct{}

func stsGetCallerIdentity(s *Server, c *call, _ *stsGetCallerIdentityIn) (any, error) {
	return struct {
		UserID  string `json:"UserId"`
		Account string `json:"Account"`
		Arn     string `json:"Arn"`
	}{"AIDALOCALAWSUSER0000001", s.st.AccountID, "arn:aws:iam::" + s.st.AccountID + ":user/local-aws"}, nil
}
