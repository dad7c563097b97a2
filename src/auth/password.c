/*
 * Password hashing: argon2id through libsodium, stored in libsodium's string
 * form ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"), which carries its own
 * parameters, so hashes made with older settings keep verifying after the
 * configuration changes.
 */
#include "auth.h"
#include "base/base.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_init_result = -1;

static void sodium_init_once(void)
{
	/* 0: initialised now, 1: someone had done it already; both are fine. */
	sodium_init_result = sodium_init() < 0 ? -1 : 0;
}

/* libsodium must be initialised before its first use (it picks the fastest
 * implementations and seeds its random generator); pthread_once makes the
 * first call safe from any number of worker threads. */
static int auth_sodium_init(void)
{
	if (pthread_once(&sodium_once, sodium_init_once) != 0)
		return -1;
	return sodium_init_result;
}

/*
 * Hash password with argon2id (v1.3) at params->ops iterations and
 * params->mem_kib KiB. 0 with *hash_r allocated, -1 if libsodium refuses
 * (parameters out of its range, out of memory, password over the limit).
 */
int auth_password_hash(const char *password, const struct auth_hash_params *params, char **hash_r)
{
	char hash[crypto_pwhash_STRBYTES];
	size_t len = strlen(password);
	unsigned long long ops = params->ops;
	size_t mem = (size_t)params->mem_kib * 1024;

	*hash_r = NULL;
	if (auth_sodium_init() < 0)
		return -1;
	if (len > AUTH_PASSWORD_MAX)
		return -1;
	if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
	    ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
	    mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > crypto_pwhash_argon2id_MEMLIMIT_MAX)
		return -1;
	if (crypto_pwhash_str_alg(hash, password, len, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	*hash_r = xstrdup(hash);
	return 0;
}

/*
 * True if password matches hash (any argon2 string libsodium understands).
 * A malformed hash is simply a mismatch. The comparison inside libsodium is
 * constant-time.
 */
bool auth_password_check(const char *hash, const char *password)
{
	if (auth_sodium_init() < 0)
		return false;
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}
