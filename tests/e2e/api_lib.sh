# api_lib.sh - helpers for the DynamoDB API tests (t_api*.sh): a free
# loopback port, an AWS environment that reads no user configuration,
# and Debian's python3 with boto3.

export LC_ALL=C
export AWS_ACCESS_KEY_ID=dynfs AWS_SECRET_ACCESS_KEY=dynfs AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=$T/aws-config AWS_SHARED_CREDENTIALS_FILE=$T/aws-credentials
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
PY=/usr/bin/python3
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=aws

# free_port: a loopback TCP port nobody listens on right now.
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts connections there.
wait_port() {
	for _ in $(seq 100); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null &&
			return 0
		sleep 0.05
	done
	return 1
}

# py SCRIPT-FILE [ARGS]: run a boto3 script with ENDPOINT set.
py() {
	ENDPOINT=$ENDPOINT $PY "$@"
}
