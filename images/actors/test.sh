#!/bin/sh
# abacosamples/test: echoes what an actor container sees (the Abaco quickstart actor).

# print the special MSG variable:
echo "Contents of MSG: $MSG"

# do a sleep to slow things down (tests may shorten it with _abaco_test_sleep)
sleep "${_abaco_test_sleep:-2}"

# print the full environment
echo "Environment:"
env

# print the root file system:
echo "Contents of root file system: "
ls /

# check for the default mounts ("exsits" is TACC's spelling; kept for log parity)
echo "Checking for contents of mounts:"
if [ -e /_abaco_data1 ]; then
  echo "Mount exsits. Contents:"
  ls /_abaco_data1
else
  echo "Mount does not exist"
fi
