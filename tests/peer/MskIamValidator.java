// A broker-side check of AWS MSK IAM tokens, for the secure test cluster
// (scripts/kafka-clusters.sh puts it on the broker's classpath and names it as
// the OAUTHBEARER server callback handler of the SASL listeners).
//
// What MSK does with such a token, as far as a client can tell: the token is
// the base64url of a SigV4-presigned GET https://kafka.REGION.amazonaws.com/
// ?Action=kafka-cluster%3AConnect (service kafka-cluster); the signature must
// verify with the secret of the access key it names, the signing time plus
// X-Amz-Expires must lie ahead. This is written from AWS's SigV4 documentation
// alone (no AWS code), so it checks kafka-backup's signer independently.
//
// JAAS options: accessKeyId, secretAccessKey, region, and sessionToken (when
// set, the token must carry and sign exactly it).

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

public class MskIamValidator implements AuthenticateCallbackHandler {
  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private String accessKeyId;
  private String secretAccessKey;
  private String region;
  private String sessionToken;

  @Override
  public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> jaas) {
    Map<String, ?> options = jaas.get(0).getOptions();
    accessKeyId = (String) options.get("accessKeyId");
    secretAccessKey = (String) options.get("secretAccessKey");
    region = (String) options.get("region");
    sessionToken = (String) options.get("sessionToken");
    if (accessKeyId == null || secretAccessKey == null || region == null) {
      throw new IllegalArgumentException("MskIamValidator needs accessKeyId, secretAccessKey and region");
    }
  }

  @Override
  public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
    for (Callback c : callbacks) {
      if (!(c instanceof OAuthBearerValidatorCallback)) throw new UnsupportedCallbackException(c);
      OAuthBearerValidatorCallback v = (OAuthBearerValidatorCallback) c;
      try {
        v.token(validate(v.tokenValue()));
      } catch (Exception e) {
        v.error("invalid_token", null, null);
      }
    }
  }

  @Override
  public void close() {}

  private OAuthBearerToken validate(String tokenValue) throws Exception {
    URI url = URI.create(new String(Base64.getUrlDecoder().decode(tokenValue), StandardCharsets.UTF_8));
    String host = "kafka." + region + ".amazonaws.com";
    require("https".equals(url.getScheme()) && host.equals(url.getHost()) && "/".equals(url.getRawPath()), "url");
    Map<String, String> query = new TreeMap<>();
    for (String part : url.getRawQuery().split("&")) {
      int eq = part.indexOf('=');
      require(eq > 0, "query");
      require(query.put(decode(part.substring(0, eq)), decode(part.substring(eq + 1))) == null, "repeated key");
    }
    require("kafka-cluster:Connect".equals(query.get("Action")), "Action");
    require("AWS4-HMAC-SHA256".equals(query.get("X-Amz-Algorithm")), "algorithm");
    require("host".equals(query.get("X-Amz-SignedHeaders")), "signed headers");
    String amzDate = query.get("X-Amz-Date");
    Instant signedAt = Instant.from(AMZ_DATE.parse(amzDate));
    long expires = Long.parseLong(query.get("X-Amz-Expires"));
    require(expires > 0 && expires <= 900, "expiry");
    Instant now = Instant.now();
    require(!signedAt.isAfter(now.plusSeconds(300)) && signedAt.plusSeconds(expires).isAfter(now), "time");
    String date = amzDate.substring(0, 8);
    String scope = date + "/" + region + "/kafka-cluster/aws4_request";
    require((accessKeyId + "/" + scope).equals(query.get("X-Amz-Credential")), "credential");
    require(sessionToken == null ? !query.containsKey("X-Amz-Security-Token")
                                 : sessionToken.equals(query.get("X-Amz-Security-Token")), "session token");

    // Every parameter but the signature is signed (User-Agent is added after
    // signing, so it is not).
    StringBuilder canonicalQuery = new StringBuilder();
    for (Map.Entry<String, String> e : query.entrySet()) {
      if (e.getKey().equals("X-Amz-Signature") || e.getKey().equals("User-Agent")) continue;
      if (canonicalQuery.length() > 0) canonicalQuery.append('&');
      canonicalQuery.append(encode(e.getKey())).append('=').append(encode(e.getValue()));
    }
    String canonicalRequest = "GET\n/\n" + canonicalQuery + "\nhost:" + host + "\n\nhost\n" + hex(sha256(""));
    String stringToSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex(sha256(canonicalRequest));
    byte[] key = hmac(("AWS4" + secretAccessKey).getBytes(StandardCharsets.UTF_8), date);
    key = hmac(key, region);
    key = hmac(key, "kafka-cluster");
    key = hmac(key, "aws4_request");
    String expected = hex(hmac(key, stringToSign));
    require(MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                                  String.valueOf(query.get("X-Amz-Signature")).getBytes(StandardCharsets.US_ASCII)),
            "signature");

    long start = signedAt.toEpochMilli();
    long lifetime = signedAt.plusSeconds(expires).toEpochMilli();
    String principal = accessKeyId;
    return new OAuthBearerToken() {
      @Override public String value() { return tokenValue; }
      @Override public Set<String> scope() { return Set.of(); }
      @Override public long lifetimeMs() { return lifetime; }
      @Override public String principalName() { return principal; }
      @Override public Long startTimeMs() { return start; }
    };
  }

  private static void require(boolean ok, String what) {
    if (!ok) throw new IllegalArgumentException("MSK IAM token: bad " + what);
  }

  // Percent-decoding (no '+' for space: SigV4 encodes a space as %20).
  private static String decode(String s) {
    byte[] out = new byte[s.length()];
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == '%') {
        out[n++] = (byte) Integer.parseInt(s.substring(i + 1, i + 3), 16);
        i += 2;
      } else {
        out[n++] = (byte) ch;
      }
    }
    return new String(out, 0, n, StandardCharsets.UTF_8);
  }

  // SigV4's URI encoding: unreserved characters kept, every other byte %XX.
  private static String encode(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      char ch = (char) (x & 0xff);
      if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'
          || ch == '_' || ch == '.' || ch == '~') {
        b.append(ch);
      } else {
        b.append(String.format("%%%02X", x & 0xff));
      }
    }
    return b.toString();
  }

  private static byte[] sha256(String s) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] hmac(byte[] key, String data) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}
