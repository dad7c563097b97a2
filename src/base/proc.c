/* Process identity: the unprivileged account of [server] user/group. */
#include "base.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

int proc_lookup_user(const char *user, const char *group, uid_t *uid_r, gid_t *gid_r,
                     char **error_r)
{
	struct passwd *pw;

	if (user == NULL || user[0] == '\0')
		return 1;
	pw = getpwnam(user);
	if (pw == NULL) {
		*error_r = xasprintf("[server] user %s: no such user", user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (group != NULL && group[0] != '\0') {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			*error_r = xasprintf("[server] group %s: no such group", group);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

int proc_set_ids(uid_t uid, gid_t gid, char **error_r)
{
	if (getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid)
		return 0;
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		*error_r = xasprintf("cannot drop privileges to uid %u: %s", (unsigned)uid,
		                     strerror(errno));
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		*error_r = xstrdup("privileges could be regained after the drop");
		return -1;
	}
	return 0;
}
