/* The version of Firecracker's API whose behaviour minnow implements:
 * info.version of Firecracker's swagger (src/firecracker/swagger/
 * firecracker.yaml) at the revision minnow's API was last compared with.
 * GET /version gives it as "firecracker_version" (what Firecracker's
 * clients read to decide which features they may use) beside minnow's own
 * version; `minnow --version` prints both, Firecracker's line first:
 * "Firecracker v<version>" is what Firecracker prints, and tools that
 * check it (Kata's fc.go: the first line's second word, a semver after
 * the "v") read only that line. */
#ifndef MINNOW_API_API_VERSION_H
#define MINNOW_API_API_VERSION_H

#define API_FIRECRACKER_VERSION "1.17.0-dev"

/* What --version prints. */
#define API_VERSION_TEXT \
    "Firecracker v" API_FIRECRACKER_VERSION " (the Firecracker API minnow implements)\nminnow " MINNOW_VERSION "\n"

#endif
