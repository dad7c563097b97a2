/*
 * SASL mechanisms that carry a username and a password (PLAIN, LOGIN), and
 * the base64 coding that every SASL exchange over IMAP uses.
 *
 * The exchange only takes client messages apart; it neither checks the
 * password nor decides about authorization identities: the protocol layer
 * hands the result to auth_verify() and applies its own policy to authzid.
 */
#include "auth.h"
#include "base/base.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

enum sasl_state {
	SASL_STATE_START,        /* nothing received yet */
	SASL_STATE_WANT_INITIAL, /* PLAIN: sent the empty challenge */
	SASL_STATE_WANT_USER,    /* LOGIN: sent "Username:" */
	SASL_STATE_WANT_PASS,    /* LOGIN: sent "Password:" */
	SASL_STATE_DONE,
	SASL_STATE_FAILED,
};

struct sasl_exchange {
	enum sasl_mech_id mech;
	enum sasl_state state;
	char *authzid; /* NULL: none given */
	char *authcid;
	char *password;
};

static const struct {
	const char *name;
	enum sasl_mech_id id;
} sasl_mechs[] = {
    {"PLAIN", SASL_MECH_PLAIN},
    {"LOGIN", SASL_MECH_LOGIN},
};

/* The challenges are constants: they live as long as any exchange. */
static const unsigned char login_user_challenge[] = "Username:";
static const unsigned char login_pass_challenge[] = "Password:";

int sasl_mech_lookup(const char *name, enum sasl_mech_id *id_r)
{
	/* RFC 4422 3.1: mechanism names are compared case-insensitively */
	for (size_t i = 0; i < ARRAY_SIZE(sasl_mechs); i++) {
		if (strcasecmp(name, sasl_mechs[i].name) == 0) {
			*id_r = sasl_mechs[i].id;
			return 0;
		}
	}
	return -1;
}

struct sasl_exchange *sasl_exchange_new(enum sasl_mech_id mech)
{
	struct sasl_exchange *ex = xcalloc(1, sizeof(*ex));

	assert(mech == SASL_MECH_PLAIN || mech == SASL_MECH_LOGIN);
	ex->mech = mech;
	ex->state = SASL_STATE_START;
	return ex;
}

static void free_secret(char **s)
{
	if (*s != NULL) {
		sodium_memzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void sasl_exchange_free(struct sasl_exchange **exp)
{
	struct sasl_exchange *ex = *exp;

	if (ex == NULL)
		return;
	*exp = NULL;
	free(ex->authzid);
	free(ex->authcid);
	free_secret(&ex->password);
	free(ex);
}

/* Copy [p, p+len) if it is at most max bytes and holds no NUL. */
static char *sasl_field_dup(const unsigned char *p, size_t len, size_t max)
{
	if (len > max || memchr(p, '\0', len) != NULL)
		return NULL;
	return xstrndup((const char *)p, len);
}

/*
 * RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
 * Exactly two NULs; authcid and passwd are not empty (authcid = 1*SAFE,
 * passwd = 1*SAFE); an empty authzid means "act as authcid".
 */
static enum sasl_step_result sasl_plain_parse(struct sasl_exchange *ex, const unsigned char *in,
                                              size_t len)
{
	const unsigned char *nul1, *nul2, *authcid, *passwd;
	size_t authzid_len, authcid_len, passwd_len;

	nul1 = memchr(in, '\0', len);
	if (nul1 == NULL)
		return SASL_STEP_ERROR;
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', len - (size_t)(authcid - in));
	if (nul2 == NULL)
		return SASL_STEP_ERROR;
	passwd = nul2 + 1;
	authzid_len = (size_t)(nul1 - in);
	authcid_len = (size_t)(nul2 - authcid);
	passwd_len = len - (size_t)(passwd - in);

	if (authcid_len == 0 || passwd_len == 0)
		return SASL_STEP_ERROR;
	if (authzid_len > AUTH_USERNAME_MAX || authcid_len > AUTH_USERNAME_MAX ||
	    passwd_len > AUTH_PASSWORD_MAX)
		return SASL_STEP_ERROR;
	/* a third NUL would hide part of the password */
	if (memchr(passwd, '\0', passwd_len) != NULL)
		return SASL_STEP_ERROR;

	if (authzid_len > 0)
		ex->authzid = xstrndup((const char *)in, authzid_len);
	ex->authcid = xstrndup((const char *)authcid, authcid_len);
	ex->password = xstrndup((const char *)passwd, passwd_len);
	return SASL_STEP_DONE;
}

static enum sasl_step_result sasl_plain_step(struct sasl_exchange *ex, const unsigned char *in,
                                             size_t len, const unsigned char **challenge_r,
                                             size_t *challenge_len_r)
{
	switch (ex->state) {
	case SASL_STATE_START:
		if (in == NULL) {
			/* RFC 4616 2: the server sends an empty challenge */
			ex->state = SASL_STATE_WANT_INITIAL;
			*challenge_r = (const unsigned char *)"";
			*challenge_len_r = 0;
			return SASL_STEP_CHALLENGE;
		}
		return sasl_plain_parse(ex, in, len);
	case SASL_STATE_WANT_INITIAL:
		if (in == NULL)
			return SASL_STEP_ERROR;
		return sasl_plain_parse(ex, in, len);
	default:
		return SASL_STEP_ERROR;
	}
}

/*
 * draft-murchison-sasl-login: the server asks "Username:" then "Password:";
 * with an initial response (RFC 4959 SASL-IR) the first prompt is skipped.
 */
static enum sasl_step_result sasl_login_step(struct sasl_exchange *ex, const unsigned char *in,
                                             size_t len, const unsigned char **challenge_r,
                                             size_t *challenge_len_r)
{
	switch (ex->state) {
	case SASL_STATE_START:
		if (in == NULL) {
			ex->state = SASL_STATE_WANT_USER;
			*challenge_r = login_user_challenge;
			*challenge_len_r = sizeof(login_user_challenge) - 1;
			return SASL_STEP_CHALLENGE;
		}
		/* the initial response is the username */
		/* fall through */
	case SASL_STATE_WANT_USER:
		if (in == NULL || len == 0)
			return SASL_STEP_ERROR;
		ex->authcid = sasl_field_dup(in, len, AUTH_USERNAME_MAX);
		if (ex->authcid == NULL)
			return SASL_STEP_ERROR;
		ex->state = SASL_STATE_WANT_PASS;
		*challenge_r = login_pass_challenge;
		*challenge_len_r = sizeof(login_pass_challenge) - 1;
		return SASL_STEP_CHALLENGE;
	case SASL_STATE_WANT_PASS:
		if (in == NULL)
			return SASL_STEP_ERROR;
		/* an empty password is passed on: it simply will not verify */
		ex->password = sasl_field_dup(in, len, AUTH_PASSWORD_MAX);
		if (ex->password == NULL)
			return SASL_STEP_ERROR;
		return SASL_STEP_DONE;
	default:
		return SASL_STEP_ERROR;
	}
}

enum sasl_step_result sasl_exchange_step(struct sasl_exchange *ex, const unsigned char *input,
                                         size_t len, const unsigned char **challenge_r,
                                         size_t *challenge_len_r)
{
	enum sasl_step_result ret;

	*challenge_r = NULL;
	*challenge_len_r = 0;
	if (ex->mech == SASL_MECH_PLAIN)
		ret = sasl_plain_step(ex, input, len, challenge_r, challenge_len_r);
	else
		ret = sasl_login_step(ex, input, len, challenge_r, challenge_len_r);

	if (ret == SASL_STEP_DONE) {
		ex->state = SASL_STATE_DONE;
	} else if (ret == SASL_STEP_ERROR) {
		/* leave nothing half-parsed behind */
		ex->state = SASL_STATE_FAILED;
		free(ex->authzid);
		ex->authzid = NULL;
		free(ex->authcid);
		ex->authcid = NULL;
		free_secret(&ex->password);
	}
	return ret;
}

const char *sasl_exchange_authcid(const struct sasl_exchange *ex)
{
	return ex->state == SASL_STATE_DONE ? ex->authcid : NULL;
}

const char *sasl_exchange_authzid(const struct sasl_exchange *ex)
{
	return ex->state == SASL_STATE_DONE ? ex->authzid : NULL;
}

const char *sasl_exchange_password(const struct sasl_exchange *ex)
{
	return ex->state == SASL_STATE_DONE ? ex->password : NULL;
}

/* ---- base64 (RFC 4648 4, with padding) ---- */

char *auth_base64_encode(const unsigned char *data, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(size);

	sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/*
 * Decode exactly b64_len bytes of b64. Anything but the canonical form is
 * refused: characters outside the alphabet (whitespace too), missing or
 * extra padding, non-zero bits after the last byte. On success *out_r is
 * allocated with a NUL after the *len_r decoded bytes (not counted).
 */
int auth_base64_decode(const char *b64, size_t b64_len, unsigned char **out_r, size_t *len_r)
{
	size_t max = b64_len / 4 * 3 + 3;
	unsigned char *out = xmalloc(max + 1);
	size_t len = 0;

	*out_r = NULL;
	*len_r = 0;
	/* with b64_end NULL, libsodium fails unless all of b64 was consumed */
	if (sodium_base642bin(out, max, b64, b64_len, NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(out);
		return -1;
	}
	out[len] = '\0';
	*out_r = out;
	*len_r = len;
	return 0;
}
