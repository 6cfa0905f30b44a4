#!/usr/bin/env bash
# End-to-end checks of things, static and dynamic thing groups: drives a real
# `warden serve` with the real aws CLI (Debian's awscli 2.9.19 at /usr/bin/aws)
# and checks every answer with jq.
#
#   bash e2e/things.sh
#
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, M failed";
# exits non-zero if any check failed. KEEP_TMP=1 keeps the temp dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

thing_arn() { echo "arn:aws:iot:$REGION:$ACCOUNT:thing/$1"; }
group_arn() { echo "arn:aws:iot:$REGION:$ACCOUNT:thinggroup/$1"; }

# ---------------------------------------------------------------- build + start
build_warden
start_server server1 || bail "warden serve starts"
read_keys "$tmp/server1.out" || bail "first start prints the access key and secret"
echo "# warden pid $server_pid on $endpoint"

# ---------------------------------------------------------------- things
expect_ok "create-thing bulb1 with a type and attributes" create-thing --thing-name bulb1 --thing-type-name LightBulb \
	--attribute-payload '{"attributes":{"color":"red","wattage":"75"}}'
expect_jq "create-thing answers name, ARN and a UUID id" \
	'.thingName == "bulb1" and .thingArn == $arn and (.thingId | test($uuid))' --arg arn "$(thing_arn bulb1)" --arg uuid "$UUID"
bulb1_id=$(jq -r .thingId <<<"$out")
expect_ok "create-thing bulb2" create-thing --thing-name bulb2 --attribute-payload '{"attributes":{"color":"blue"}}'
expect_ok "create-thing sensor:1 (a name with a colon)" create-thing --thing-name sensor:1
expect_ok "create-thing bulb1 again with the same configuration" create-thing --thing-name bulb1 --thing-type-name LightBulb \
	--attribute-payload '{"attributes":{"wattage":"75","color":"red"}}'
expect_jq "the repeated create-thing answers the same thing id" '.thingId == $id' --arg id "$bulb1_id"
expect_error "create-thing bulb1 with other attributes -> ResourceAlreadyExistsException" ResourceAlreadyExistsException \
	create-thing --thing-name bulb1 --attribute-payload '{"attributes":{"color":"green"}}'
expect_error "create-thing with 4 attributes and no type -> InvalidRequestException" InvalidRequestException \
	create-thing --thing-name crowded --attribute-payload '{"attributes":{"a":"1","b":"2","c":"3","d":"4"}}'

expect_ok "describe-thing bulb1" describe-thing --thing-name bulb1
expect_jq "describe-thing shows every field" \
	'.thingName == "bulb1" and .defaultClientId == "bulb1" and .thingId == $id and .thingArn == $arn and
	 .thingTypeName == "LightBulb" and .attributes == {"color":"red","wattage":"75"} and .version == 1' \
	--arg id "$bulb1_id" --arg arn "$(thing_arn bulb1)"
expect_ok "describe-thing sensor:1" describe-thing --thing-name sensor:1
expect_jq "an untyped thing has no thingTypeName and attributes {}" '(has("thingTypeName") | not) and .attributes == {}'
expect_error "describe-thing of a missing thing -> ResourceNotFoundException" ResourceNotFoundException describe-thing --thing-name nope

expect_ok "update-thing bulb2 merging an attribute, expected version 1" update-thing --thing-name bulb2 \
	--attribute-payload '{"attributes":{"wattage":"60"},"merge":true}' --expected-version 1
expect_ok "describe-thing bulb2 after the update" describe-thing --thing-name bulb2
expect_jq "the update merged the attributes and bumped the version" '.attributes == {"color":"blue","wattage":"60"} and .version == 2'
expect_error "update-thing with a stale expected version -> VersionConflictException" VersionConflictException \
	update-thing --thing-name bulb2 --thing-type-name X --expected-version 1
expect_ok "update-thing removing an attribute with an empty value" update-thing --thing-name bulb2 \
	--attribute-payload '{"attributes":{"wattage":""},"merge":true}'
expect_ok "describe-thing bulb2" describe-thing --thing-name bulb2
expect_jq "the attribute is gone" '.attributes == {"color":"blue"} and .version == 3'

expect_ok "list-things" list-things
expect_jq "list-things lists all three in name order" '[.things[].thingName] == ["bulb1","bulb2","sensor:1"]'
expect_jq "list-things shows type, ARN, attributes and version" \
	'.things[0] == {"thingName":"bulb1","thingTypeName":"LightBulb","thingArn":$arn,"attributes":{"color":"red","wattage":"75"},"version":1}' \
	--arg arn "$(thing_arn bulb1)"
expect_ok "list-things --attribute-name color --attribute-value red" list-things --attribute-name color --attribute-value red
expect_jq "the attribute filter finds bulb1 only" '[.things[].thingName] == ["bulb1"]'
expect_ok "list-things --attribute-name color" list-things --attribute-name color
expect_jq "the attribute-name filter finds both bulbs" '[.things[].thingName] == ["bulb1","bulb2"]'
expect_ok "list-things with a value prefix" list-things --attribute-name color --attribute-value bl --use-prefix-attribute-value
expect_jq "the prefix filter finds bulb2" '[.things[].thingName] == ["bulb2"]'
expect_ok "list-things --thing-type-name LightBulb" list-things --thing-type-name LightBulb
expect_jq "the type filter finds bulb1" '[.things[].thingName] == ["bulb1"]'
expect_ok "list-things --page-size 1 (the CLI follows nextToken)" list-things --page-size 1
expect_jq "paging one at a time still lists all three" '[.things[].thingName] == ["bulb1","bulb2","sensor:1"]'
expect_ok "list-things --max-items 2" list-things --max-items 2 --page-size 1
expect_jq "max-items stops after two with a NextToken" '([.things[].thingName] == ["bulb1","bulb2"]) and (.NextToken | length > 0)'
token=$(jq -r .NextToken <<<"$out")
expect_ok "list-things --starting-token" list-things --starting-token "$token" --page-size 1
expect_jq "the next page starts after bulb2" '[.things[].thingName] == ["sensor:1"]'

# ---------------------------------------------------------------- static groups
expect_ok "create-thing-group lights with properties and tags" create-thing-group --thing-group-name lights \
	--thing-group-properties 'thingGroupDescription="all lights",attributePayload={attributes={site=eu}}' --tags Key=team,Value=ops
expect_jq "create-thing-group answers name, ARN and id" '.thingGroupName == "lights" and .thingGroupArn == $arn and (.thingGroupId | test($uuid))' \
	--arg arn "$(group_arn lights)" --arg uuid "$UUID"
expect_ok "create-thing-group halogen under lights" create-thing-group --thing-group-name halogen --parent-group-name lights
expect_ok "describe-thing-group halogen" describe-thing-group --thing-group-name halogen
expect_jq "halogen names its parent and the chain from the root" \
	'.thingGroupMetadata.parentGroupName == "lights" and .thingGroupMetadata.rootToParentThingGroups == [{"groupName":"lights","groupArn":$arn}]
	 and .version == 1 and .thingGroupProperties == {}' --arg arn "$(group_arn lights)"
expect_ok "describe-thing-group lights" describe-thing-group --thing-group-name lights
expect_jq "lights has its description and attributes" \
	'.thingGroupProperties == {"thingGroupDescription":"all lights","attributePayload":{"attributes":{"site":"eu"}}}'
expect_ok "list-tags-for-resource of lights" list-tags-for-resource --resource-arn "$(group_arn lights)"
expect_jq "lights carries its tag" '.tags == [{"Key":"team","Value":"ops"}]'
expect_ok "update-thing-group lights" update-thing-group --thing-group-name lights --expected-version 1 \
	--thing-group-properties 'thingGroupDescription="every light"'
expect_jq "update-thing-group answers version 2" '.version == 2'
expect_error "update-thing-group with a stale version -> VersionConflictException" VersionConflictException \
	update-thing-group --thing-group-name lights --expected-version 1 --thing-group-properties 'thingGroupDescription="x"'
expect_error "create-thing-group under a missing parent -> InvalidRequestException" InvalidRequestException \
	create-thing-group --thing-group-name orphan --parent-group-name nope

expect_ok "add-thing-to-thing-group bulb1 -> halogen by name" add-thing-to-thing-group --thing-name bulb1 --thing-group-name halogen
expect_ok "add-thing-to-thing-group bulb2 -> lights by ARN" add-thing-to-thing-group \
	--thing-arn "$(thing_arn bulb2)" --thing-group-arn "$(group_arn lights)"
expect_ok "add-thing-to-thing-group bulb1 -> halogen again" add-thing-to-thing-group --thing-name bulb1 --thing-group-name halogen
expect_error "add bulb1 to lights too (same hierarchy) -> InvalidRequestException" InvalidRequestException \
	add-thing-to-thing-group --thing-name bulb1 --thing-group-name lights
expect_error "add a missing thing -> ResourceNotFoundException" ResourceNotFoundException \
	add-thing-to-thing-group --thing-name nope --thing-group-name lights
expect_ok "list-things-in-thing-group lights" list-things-in-thing-group --thing-group-name lights
expect_jq "lights itself holds bulb2" '.things == ["bulb2"]'
expect_ok "list-things-in-thing-group lights --recursive" list-things-in-thing-group --thing-group-name lights --recursive
expect_jq "recursively, lights holds both bulbs" '(.things | sort) == ["bulb1","bulb2"]'
expect_ok "list-things-in-thing-group lights --recursive --page-size 1" list-things-in-thing-group --thing-group-name lights --recursive --page-size 1
expect_jq "paging the recursive list one at a time finds both" '(.things | sort) == ["bulb1","bulb2"]'
expect_ok "list-thing-groups-for-thing bulb1" list-thing-groups-for-thing --thing-name bulb1
expect_jq "bulb1 is in halogen" '.thingGroups == [{"groupName":"halogen","groupArn":$arn}]' --arg arn "$(group_arn halogen)"
expect_ok "list-thing-groups" list-thing-groups
expect_jq "list-thing-groups lists both groups" '[.thingGroups[].groupName] == ["halogen","lights"]'
expect_ok "list-thing-groups --parent-group lights" list-thing-groups --parent-group lights
expect_jq "lights has the child halogen" '[.thingGroups[].groupName] == ["halogen"]'
expect_ok "list-thing-groups --name-prefix-filter li" list-thing-groups --name-prefix-filter li
expect_jq "the prefix filter finds lights" '[.thingGroups[].groupName] == ["lights"]'
expect_ok "remove-thing-from-thing-group bulb2 from lights" remove-thing-from-thing-group --thing-name bulb2 --thing-group-name lights
expect_ok "list-things-in-thing-group lights" list-things-in-thing-group --thing-group-name lights
expect_jq "lights itself is empty now" '.things == []'
expect_error "delete-thing-group lights while it has a child -> InvalidRequestException" InvalidRequestException \
	delete-thing-group --thing-group-name lights

# ---------------------------------------------------------------- dynamic groups
expect_ok "update-thing sensor:1 with a temperature of 20" update-thing --thing-name sensor:1 \
	--attribute-payload '{"attributes":{"temperature":"20"}}'
expect_ok "create-dynamic-thing-group RoomTooWarm" create-dynamic-thing-group --thing-group-name RoomTooWarm \
	--query-string "attributes.temperature>60"
expect_jq "create-dynamic-thing-group answers the defaults" \
	'.thingGroupName == "RoomTooWarm" and .thingGroupArn == $arn and .indexName == "AWS_Things" and
	 .queryString == "attributes.temperature>60" and .queryVersion == "2017-09-30" and (.thingGroupId | test($uuid))' \
	--arg arn "$(group_arn RoomTooWarm)" --arg uuid "$UUID"
expect_ok "list-things-in-thing-group RoomTooWarm" list-things-in-thing-group --thing-group-name RoomTooWarm
expect_jq "nothing is too warm yet" '.things == []'
expect_ok "update-thing sensor:1 to 75 degrees" update-thing --thing-name sensor:1 \
	--attribute-payload '{"attributes":{"temperature":"75"},"merge":true}'
expect_ok "list-things-in-thing-group RoomTooWarm" list-things-in-thing-group --thing-group-name RoomTooWarm
expect_jq "sensor:1 appeared in the dynamic group" '.things == ["sensor:1"]'
expect_ok "list-thing-groups-for-thing sensor:1" list-thing-groups-for-thing --thing-name sensor:1
expect_jq "sensor:1 lists the dynamic group" '[.thingGroups[].groupName] == ["RoomTooWarm"]'
expect_ok "describe-thing-group RoomTooWarm" describe-thing-group --thing-group-name RoomTooWarm
expect_jq "the dynamic group is ACTIVE with its query" \
	'.status == "ACTIVE" and .indexName == "AWS_Things" and .queryString == "attributes.temperature>60" and .queryVersion == "2017-09-30"'
expect_error "create-dynamic-thing-group with a bad query -> InvalidQueryException" InvalidQueryException \
	create-dynamic-thing-group --thing-group-name bad --query-string "attributes.temperature>>60"
expect_error "create-dynamic-thing-group on another index -> ResourceNotFoundException" ResourceNotFoundException \
	create-dynamic-thing-group --thing-group-name bad --query-string "thingName:x" --index-name AWS_ThingGroups
expect_error "add-thing-to-thing-group into a dynamic group -> InvalidRequestException" InvalidRequestException \
	add-thing-to-thing-group --thing-name bulb2 --thing-group-name RoomTooWarm
expect_ok "update-dynamic-thing-group RoomTooWarm to bulbs" update-dynamic-thing-group --thing-group-name RoomTooWarm \
	--thing-group-properties 'thingGroupDescription="bulbs now"' --query-string 'thingName:bulb* AND NOT attributes.color:red'
expect_jq "update-dynamic-thing-group answers version 2" '.version == 2'
expect_ok "list-things-in-thing-group RoomTooWarm" list-things-in-thing-group --thing-group-name RoomTooWarm
expect_jq "the new query holds bulb2 only" '.things == ["bulb2"]'

# ---------------------------------------------------------------- deletes
expect_ok "delete-thing bulb1" delete-thing --thing-name bulb1
expect_error "describe-thing bulb1 -> ResourceNotFoundException" ResourceNotFoundException describe-thing --thing-name bulb1
expect_ok "delete-thing bulb1 again succeeds" delete-thing --thing-name bulb1
expect_ok "list-things-in-thing-group halogen" list-things-in-thing-group --thing-group-name halogen
expect_jq "the deleted thing left halogen" '.things == []'
expect_error "delete-thing with a stale version -> VersionConflictException" VersionConflictException \
	delete-thing --thing-name bulb2 --expected-version 1
expect_ok "delete-thing bulb2 with its version" delete-thing --thing-name bulb2 --expected-version 3
expect_ok "list-things-in-thing-group RoomTooWarm" list-things-in-thing-group --thing-group-name RoomTooWarm
expect_jq "the deleted thing left the dynamic group" '.things == []'
expect_ok "delete-dynamic-thing-group RoomTooWarm" delete-dynamic-thing-group --thing-group-name RoomTooWarm
expect_ok "delete-thing-group halogen" delete-thing-group --thing-group-name halogen
expect_ok "delete-thing-group lights" delete-thing-group --thing-group-name lights
expect_ok "delete-thing-group lights again succeeds" delete-thing-group --thing-group-name lights
expect_ok "list-thing-groups" list-thing-groups
expect_jq "no groups are left" '.thingGroups == []'
expect_ok "list-things" list-things
expect_jq "sensor:1 is the only thing left" '[.things[].thingName] == ["sensor:1"]'

summary
