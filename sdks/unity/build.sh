#!/bin/sh
# Builds the Unity SDK with Mono's C# compiler (Debian: apt-get install mono-devel), outside
# Unity: the runtime library, the conformance adapter and the seed's samples as a program.
#   sh sdks/unity/build.sh                 -> sdks/unity/build/*.dll, *.exe
#   DEFINE=PRESENTLY_BREAK_NO_RESYNC sh sdks/unity/build.sh build-broken
#                                          -> a deliberately broken SDK (no S23 catch-up), for tests
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/${1:-build}"
mkdir -p "$out"
define=${DEFINE:+-define:$DEFINE}
# -nowarn:1998: async lambdas without await are on purpose (fire-and-forget thread-pool work).
mcs -langversion:7 -target:library -out:"$out/Presently.Unity.dll" -r:System.dll -warnaserror+ -nowarn:1998 $define "$here"/Runtime/*.cs
mcs -langversion:7 -target:exe -out:"$out/ConformanceAdapter.exe" -r:"$out/Presently.Unity.dll" -warnaserror+ "$here/Tests~/ConformanceAdapter.cs"
mcs -langversion:7 -target:exe -out:"$out/UserStatusSamples.exe" -r:"$out/Presently.Unity.dll" -warnaserror+ "$here/Samples~/UserStatus/UserStatusSample.cs" "$here/Tests~/SamplesProgram.cs"
