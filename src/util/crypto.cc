#include "util/crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdint>
#include <memory>
#include <stdexcept>

namespace kafka_backup::util {
namespace {

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    throw std::runtime_error("OpenSSL EVP_Digest failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

std::string Sha256(std::string_view data) {
  return Digest(EVP_sha256(), data);
}

std::string Md5(std::string_view data) {
  return Digest(EVP_md5(), data);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &len)) {
    throw std::runtime_error("OpenSSL HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return e ? std::string(buf) : std::string("unknown OpenSSL error");
}

}  // namespace

bool SignRs256(std::string_view pem_private_key, std::string_view data, std::string* signature, std::string* error) {
  std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_mem_buf(pem_private_key.data(), static_cast<int>(pem_private_key.size())));
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                                : nullptr);
  if (!key) {
    *error = "cannot read the private key (PEM): " + OpenSslError();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    *error = "RS256 signing failed: " + OpenSslError();
    return false;
  }
  signature->resize(len);
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature->data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    *error = "RS256 signing failed: " + OpenSslError();
    return false;
  }
  signature->resize(len);
  return true;
}

bool VerifyRs256(std::string_view pem_public_key, std::string_view data, std::string_view signature) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem_public_key.data(), static_cast<int>(pem_public_key.size())));
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

namespace {

std::unique_ptr<EVP_PKEY, KeyDeleter> ReadEd25519Key(std::string_view pem, bool private_key, std::string* error) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, KeyDeleter> key;
  if (bio) {
    key.reset(private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                          : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!key) {
    *error = std::string("cannot read the ") + (private_key ? "private" : "public") + " key (PEM)";
    ERR_clear_error();
    return nullptr;
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    const char* type = OBJ_nid2sn(EVP_PKEY_get_id(key.get()));
    *error = std::string("the key is ") + (type ? type : "of another type") + ", not Ed25519";
    return nullptr;
  }
  return key;
}

bool RawPublicKey(EVP_PKEY* key, std::string* out) {
  size_t len = 32;
  out->assign(len, '\0');
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out->data()), &len) != 1 || len != 32) {
    return false;
  }
  return true;
}

}  // namespace

bool SignEd25519(std::string_view pem_private_key, std::string_view data, std::string* signature,
                 std::string* public_key, std::string* error) {
  auto key = ReadEd25519Key(pem_private_key, true, error);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t len = 64;
  signature->assign(len, '\0');
  // Ed25519 hashes the message itself: no digest is named.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature->data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      !RawPublicKey(key.get(), public_key)) {
    *error = "Ed25519 signing failed: " + OpenSslError();
    return false;
  }
  signature->resize(len);
  return true;
}

bool Ed25519PublicKey(std::string_view pem_key, std::string* public_key, std::string* error) {
  bool is_private = pem_key.find("PRIVATE KEY-----") != std::string_view::npos;
  auto key = ReadEd25519Key(pem_key, is_private, error);
  if (!key) return false;
  if (!RawPublicKey(key.get(), public_key)) {
    *error = "cannot read the Ed25519 public key: " + OpenSslError();
    return false;
  }
  return true;
}

bool VerifyEd25519(std::string_view public_key, std::string_view data, std::string_view signature) {
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()), public_key.size()));
  if (!key) {
    ERR_clear_error();
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  std::string buf(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  buf.resize(static_cast<size_t>(n) - pad);
  *out = std::move(buf);
  return true;
}

bool RandomBytes(size_t n, std::string* out) {
  out->assign(n, '\0');
  return n == 0 || RAND_bytes(reinterpret_cast<unsigned char*>(out->data()), static_cast<int>(n)) == 1;
}

namespace {

constexpr size_t kGcmKeySize = 32;
constexpr size_t kGcmIvSize = 12;
constexpr size_t kGcmTagSize = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A context set up for AES-256-GCM in one direction, with the AAD fed in.
CipherCtx GcmContext(bool encrypt, std::string_view key, std::string_view iv, std::string_view aad) {
  if (key.size() != kGcmKeySize || iv.size() != kGcmIvSize || aad.size() > INT32_MAX) return nullptr;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmIvSize), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(iv), encrypt ? 1 : 0) != 1 ||
      (!aad.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1)) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

bool AesGcmEncrypt(std::string_view key, std::string_view iv, std::string_view aad, std::string_view plaintext,
                   std::string* out) {
  if (plaintext.size() > INT32_MAX) return false;
  CipherCtx ctx = GcmContext(true, key, iv, aad);
  if (!ctx) return false;
  const size_t start = out->size();
  out->resize(start + plaintext.size() + kGcmTagSize);
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + start);
  int len = 0;
  int final_len = 0;
  if ((!plaintext.empty() &&
       EVP_CipherUpdate(ctx.get(), dst, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) != 1) ||
      EVP_CipherFinal_ex(ctx.get(), dst + len, &final_len) != 1 ||
      static_cast<size_t>(len) + static_cast<size_t>(final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagSize), dst + plaintext.size()) !=
          1) {
    out->resize(start);
    return false;
  }
  return true;
}

bool AesGcmDecrypt(std::string_view key, std::string_view iv, std::string_view aad, std::string_view ciphertext_and_tag,
                   std::string* out) {
  if (ciphertext_and_tag.size() < kGcmTagSize || ciphertext_and_tag.size() > INT32_MAX) return false;
  std::string_view ciphertext = ciphertext_and_tag.substr(0, ciphertext_and_tag.size() - kGcmTagSize);
  std::string tag(ciphertext_and_tag.substr(ciphertext.size()));
  CipherCtx ctx = GcmContext(false, key, iv, aad);
  if (!ctx) return false;
  const size_t start = out->size();
  out->resize(start + ciphertext.size());
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + start);
  int len = 0;
  int final_len = 0;
  if ((!ciphertext.empty() &&
       EVP_CipherUpdate(ctx.get(), dst, &len, Bytes(ciphertext), static_cast<int>(ciphertext.size())) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagSize), tag.data()) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), dst + len, &final_len) != 1 ||
      static_cast<size_t>(len) + static_cast<size_t>(final_len) != ciphertext.size()) {
    OPENSSL_cleanse(out->data() + start, ciphertext.size());  // never hand out unauthenticated plaintext
    out->resize(start);
    return false;
  }
  return true;
}

void Cleanse(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

}  // namespace kafka_backup::util
