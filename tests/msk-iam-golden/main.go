// Prints MSK IAM auth tokens made by AWS's own signer library
// (github.com/aws/aws-msk-iam-sasl-signer-go) for fixed credentials, one JSON
// object per line: the inputs, the token, and its decoded URL. The C++ unit
// test (tests/unit/msk_iam_test.cc) rebuilds each token from the same inputs
// (the signing time read back from the URL) and must match it byte for byte.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/aws/aws-msk-iam-sasl-signer-go/signer"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func main() {
	cases := []struct{ Region, Key, Secret, Session string }{
		{"us-east-1", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""},
		{"eu-west-2", "ASIAEXAMPLETEMPORARY", "secret/with+chars=", "FwoGZXIvYXdzEBYaDExampleSessionToken/+="},
	}
	for _, c := range cases {
		provider := credentials.NewStaticCredentialsProvider(c.Key, c.Secret, c.Session)
		token, expiry, err := signer.GenerateAuthTokenFromCredentialsProvider(context.Background(), c.Region, provider)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(token)
		u, _ := url.Parse(string(raw))
		line, _ := json.Marshal(map[string]any{
			"region": c.Region, "access_key_id": c.Key, "secret_access_key": c.Secret, "session_token": c.Session,
			"amz_date": u.Query().Get("X-Amz-Date"), "user_agent": u.Query().Get("User-Agent"),
			"expiry_ms": expiry, "url": string(raw), "token": token,
		})
		fmt.Println(string(line))
	}
}
