#!/bin/sh
echo "app on $(uname -m)"
