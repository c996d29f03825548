/* SPDX-License-Identifier: MIT */
/* Not written yet. */
typedef int hvsock__placeholder_transport_local;
