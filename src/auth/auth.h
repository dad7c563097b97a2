/*
 * auth/ — who may log in. Accounts live in DATA/roost.db (SQLite); passwords
 * are stored only as argon2id hashes (libsodium). The SASL mechanisms here
 * turn client messages into credentials; the protocol layer (imap/, later
 * lmtp/) drives the exchange and sends the bytes.
 *
 * Thread safety: an auth_db may be used from several threads at once (the
 * server's worker pool); password hashing runs outside any lock.
 */
#ifndef ROOST_AUTH_H
#define ROOST_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_USERNAME_MAX 255
#define AUTH_PASSWORD_MAX 1024

struct auth_hash_params {
	unsigned ops;     /* argon2id iterations */
	unsigned mem_kib; /* argon2id memory in KiB */
};

struct auth_db;

/* Open (creating if needed) DATA/roost.db. */
int auth_db_open(const char *data_dir, const struct auth_hash_params *params, struct auth_db **db_r,
                 char **error_r);
void auth_db_close(struct auth_db **db);
/* Make what logins need (the dummy hash for unknown users) now rather than
 * at the first login; the server calls it at start. 0 ok, -1 error. */
int auth_db_prepare_logins(struct auth_db *db);

/* A valid account name: 1..255 bytes of letters, digits and ._@+-
 * (what fits into an IMAP atom and a file name). */
bool auth_username_valid(const char *name);

/* 0 ok; -1 error (reason allocated in *error_r: invalid name, exists, ...). */
int auth_user_add(struct auth_db *db, const char *name, const char *password, char **error_r);
/* 1 deleted, 0 no such user, -1 error. */
int auth_user_delete(struct auth_db *db, const char *name, char **error_r);
/* 1 changed, 0 no such user, -1 error. */
int auth_user_set_password(struct auth_db *db, const char *name, const char *password,
                           char **error_r);
/* 1 exists (its canonical name allocated in *name_r unless name_r is NULL),
 * 0 no such user, -1 error. */
int auth_user_lookup(struct auth_db *db, const char *name, char **name_r, char **error_r);
/* The account's numeric id (its data lives in DATA/accounts/<id>/): 1 found
 * (*id_r set; canonical name allocated in *canonical_r unless that is
 * NULL), 0 no such user, -1 error. */
int auth_user_id(struct auth_db *db, const char *name, int64_t *id_r, char **canonical_r,
                 char **error_r);
/* Calls cb for each account name in order. 0 ok, -1 error. */
int auth_user_list(struct auth_db *db, void (*cb)(const char *name, void *ctx), void *ctx,
                   char **error_r);

enum auth_result {
	AUTH_OK = 1,
	AUTH_FAILED = 0,   /* wrong password or no such user: never say which */
	AUTH_INTERNAL = -1 /* the database failed */
};

/*
 * Check a password. Does the same work whether or not the user exists (an
 * unknown user is verified against a dummy hash), so that timing does not
 * tell which names exist. On AUTH_OK *user_r is the account's canonical name
 * (allocated).
 */
enum auth_result auth_verify(struct auth_db *db, const char *name, const char *password,
                             char **user_r);

/* Hash a password with argon2id into libsodium's string form. */
int auth_password_hash(const char *password, const struct auth_hash_params *params, char **hash_r);
bool auth_password_check(const char *hash, const char *password);

/* ---- SASL (RFC 4422) mechanisms that yield a username and password ---- */

enum sasl_mech_id {
	SASL_MECH_PLAIN, /* RFC 4616 */
	SASL_MECH_LOGIN, /* draft-murchison-sasl-login */
};

enum sasl_step_result {
	SASL_STEP_CHALLENGE, /* send *challenge_r (base64 it), await a response */
	SASL_STEP_DONE,      /* credentials are ready */
	SASL_STEP_ERROR,     /* malformed response: fail the exchange */
};

struct sasl_exchange;

/* Returns -1 for an unknown mechanism name (compared case-insensitively). */
int sasl_mech_lookup(const char *name, enum sasl_mech_id *id_r);
struct sasl_exchange *sasl_exchange_new(enum sasl_mech_id mech);
void sasl_exchange_free(struct sasl_exchange **ex);
/*
 * One step. input is the decoded client response (NULL for "no initial
 * response"; an empty initial response is len 0 with a non-NULL pointer).
 * On CHALLENGE, *challenge_r and *challenge_len_r point to bytes owned by the
 * exchange (to be base64-encoded by the caller).
 */
enum sasl_step_result sasl_exchange_step(struct sasl_exchange *ex, const unsigned char *input,
                                         size_t len, const unsigned char **challenge_r,
                                         size_t *challenge_len_r);
/* After DONE. authzid is NULL when none was given. */
const char *sasl_exchange_authcid(const struct sasl_exchange *ex);
const char *sasl_exchange_authzid(const struct sasl_exchange *ex);
const char *sasl_exchange_password(const struct sasl_exchange *ex);

/* Base64 (RFC 4648, with padding) through libsodium. decode: -1 if invalid. */
char *auth_base64_encode(const unsigned char *data, size_t len);
int auth_base64_decode(const char *b64, size_t b64_len, unsigned char **out_r, size_t *len_r);

#endif
