/*
 * TLS with OpenSSL 3 through memory BIOs: the event loop moves bytes between
 * the socket and the BIOs; OpenSSL never touches a file descriptor. TLS 1.2
 * and 1.3 only.
 */
#include "server/server_private.h"

#include <openssl/err.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tls_error_string(const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	return xasprintf("%s: %s", what, reason);
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = tls_error_string("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/* idle connections give their record buffers back */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char *what = xasprintf("certificate %s", cert);
		*error_r = tls_error_string(what);
		free(what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		char *what = xasprintf("key %s", key);
		*error_r = tls_error_string(what);
		free(what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error_string("key does not match the certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_conn *tls_conn_new(SSL_CTX *ctx)
{
	struct tls_conn *tls = xcalloc(1, sizeof(*tls));

	tls->ssl = SSL_new(ctx);
	if (tls->ssl == NULL)
		fatal("SSL_new failed");
	tls->rbio = BIO_new(BIO_s_mem());
	tls->wbio = BIO_new(BIO_s_mem());
	if (tls->rbio == NULL || tls->wbio == NULL)
		fatal("BIO_new failed");
	/* an empty read BIO means "want more", not end of file */
	BIO_set_mem_eof_return(tls->rbio, -1);
	SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
	SSL_set_accept_state(tls->ssl);
	return tls;
}

void tls_conn_free(struct tls_conn **tlsp)
{
	struct tls_conn *tls = *tlsp;

	if (tls == NULL)
		return;
	*tlsp = NULL;
	SSL_free(tls->ssl); /* frees both BIOs */
	free(tls);
}

int tls_conn_input(struct tls_conn *tls, const void *data, size_t len, struct buf *plain)
{
	char chunk[16384];

	while (len > 0) {
		int n = BIO_write(tls->rbio, data, (int)(len > INT32_MAX ? INT32_MAX : len));
		if (n <= 0)
			return -1;
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	if (!tls->handshake_done) {
		int r = SSL_do_handshake(tls->ssl);
		if (r != 1) {
			int err = SSL_get_error(tls->ssl, r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return 0;
			ERR_clear_error();
			return -1;
		}
		tls->handshake_done = true;
	}
	for (;;) {
		int n = SSL_read(tls->ssl, chunk, sizeof(chunk));
		if (n > 0) {
			buf_append(plain, chunk, (size_t)n);
			continue;
		}
		int err = SSL_get_error(tls->ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return 0;
		ERR_clear_error();
		/* close_notify or a fatal error: either way the session ends */
		return -1;
	}
}

int tls_conn_write(struct tls_conn *tls, const void *data, size_t len)
{
	while (len > 0) {
		int n = SSL_write(tls->ssl, data, (int)(len > 1 << 30 ? 1 << 30 : len));
		if (n <= 0) {
			ERR_clear_error();
			return -1;
		}
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return 0;
}

void tls_conn_pending(struct tls_conn *tls, struct buf *out)
{
	char *ptr;
	long n = BIO_get_mem_data(tls->wbio, &ptr);

	if (n > 0) {
		buf_append(out, ptr, (size_t)n);
		(void)BIO_reset(tls->wbio);
	}
}

const char *tls_conn_describe(struct tls_conn *tls, char *out, size_t size)
{
	snprintf(out, size, "%s %s", SSL_get_version(tls->ssl), SSL_get_cipher_name(tls->ssl));
	return out;
}

/* A self-signed certificate for localhost, made through OpenSSL's API. */
int tls_make_self_signed(const char *cert_path, const char *key_path, char **error_r)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x509 = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f = NULL;
	int ret = -1;

	if (pkey == NULL) {
		*error_r = tls_error_string("key generation");
		return -1;
	}
	x509 = X509_new();
	if (x509 == NULL)
		fatal("X509_new failed");
	X509_set_version(x509, 2);
	{
		unsigned char serial[16];
		BIGNUM *bn;
		if (RAND_bytes(serial, sizeof(serial)) != 1)
			fatal("RAND_bytes failed");
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
		BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509));
		BN_free(bn);
	}
	X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x509), 60L * 60 * 24 * 365);
	X509_set_pubkey(x509, pkey);
	name = X509_get_subject_name(x509);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Roost demo", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
	                           -1, 0);
	X509_set_issuer_name(x509, name);
	X509V3_set_ctx(&v3, x509, x509, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	                          "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (ext == NULL)
		fatal("subjectAltName failed");
	X509_add_ext(x509, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	X509_add_ext(x509, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x509, pkey, EVP_sha256()) == 0) {
		*error_r = tls_error_string("signing");
		goto out;
	}
	{
		int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		f = fd < 0 ? NULL : fdopen(fd, "w");
		if (f == NULL && fd >= 0)
			close(fd);
	}
	if (f == NULL || PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		*error_r = xasprintf("%s: cannot write key", key_path);
		goto out;
	}
	fclose(f);
	f = fopen(cert_path, "w");
	if (f == NULL || PEM_write_X509(f, x509) != 1) {
		*error_r = xasprintf("%s: cannot write certificate", cert_path);
		goto out;
	}
	ret = 0;
out:
	if (f != NULL)
		fclose(f);
	X509_free(x509);
	EVP_PKEY_free(pkey);
	return ret;
}
