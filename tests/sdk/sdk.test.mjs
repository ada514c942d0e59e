// sdk.test.mjs: the official Dify Node SDK (npm "dify-client"), unchanged,
// against a running difycgi.  Prints "ok - ..." / "not ok - ..." lines.
// Usage: node sdk.test.mjs BASE_URL COMPLETION_KEY CHAT_KEY
import { ChatClient, CompletionClient, DifyClient } from "dify-client";

const [base, completionKey, chatKey] = process.argv.slice(2);
let failed = 0;

function check(name, cond, detail) {
	if (cond) {
		console.log(`ok - ${name}`);
	} else {
		failed++;
		console.log(`not ok - ${name}`);
		if (detail !== undefined)
			console.log(`#   ${JSON.stringify(detail).slice(0, 400)}`);
	}
}

// Read an SSE body the way the SDK hands it out (a Node stream).
async function readEvents(stream) {
	let text = "";
	for await (const chunk of stream)
		text += chunk.toString();
	return text.split("\n").filter((l) => l.startsWith("data: "))
	    .map((l) => JSON.parse(l.slice(6)));
}

async function main() {
	const completion = new CompletionClient(completionKey, base);
	const chat = new ChatClient(chatKey, base);
	const user = "sdk-user";

	let r = await new DifyClient(chatKey, base).getApplicationParameters(user);
	check("getApplicationParameters returns the feature toggles",
	    r.status === 200 && Array.isArray(r.data.user_input_form) &&
	    r.data.system_parameters.file_size_limit === 15, r.data);

	r = await completion.createCompletionMessage({ topic: "tea" }, user);
	check("createCompletionMessage (blocking) returns an answer",
	    r.status === 200 && r.data.event === "message" &&
	    r.data.answer.includes("tea"), r.data);
	const completionMessage = r.data.id;

	r = await completion.createCompletionMessage({ topic: "tea" }, user, true);
	let events = await readEvents(r.data);
	check("createCompletionMessage (streaming) yields message events and message_end",
	    events.length > 1 && events.at(-1).event === "message_end" &&
	    events.slice(0, -1).every((e) => e.event === "message"), events.map((e) => e.event));

	r = await completion.messageFeedback(completionMessage, "like", user);
	check("messageFeedback on a completion message succeeds",
	    r.status === 200 && r.data.result === "success", r.data);

	r = await chat.createChatMessage({}, "Hello there", user);
	check("createChatMessage (blocking) starts a conversation",
	    r.status === 200 && r.data.conversation_id && r.data.answer.length > 0, r.data);
	const conversation = r.data.conversation_id;

	r = await chat.createChatMessage({}, "And again", user, true, conversation);
	events = await readEvents(r.data);
	const answer = events.filter((e) => e.event === "message").map((e) => e.answer).join("");
	check("createChatMessage (streaming) continues the conversation",
	    events.at(-1).event === "message_end" && answer.includes("Hello there") &&
	    events.every((e) => e.conversation_id === conversation), events.at(-1));

	r = await chat.getConversations(user);
	check("getConversations lists the conversation",
	    r.status === 200 && r.data.data.some((c) => c.id === conversation), r.data);

	r = await chat.getConversationMessages(user, conversation);
	check("getConversationMessages returns both turns oldest first",
	    r.status === 200 && r.data.data.length === 2 &&
	    r.data.data[0].query === "Hello there", r.data);
	const firstMessage = r.data.data[0].id;

	r = await chat.getConversationMessages(user, conversation, r.data.data[1].id, 1);
	check("getConversationMessages pages with first_id and limit",
	    r.data.data.length === 1 && r.data.data[0].id === firstMessage, r.data);

	r = await chat.messageFeedback(firstMessage, "dislike", user);
	check("messageFeedback on a chat message succeeds", r.data.result === "success", r.data);

	r = await chat.renameConversation(conversation, "SDK chat", user);
	check("renameConversation renames it", r.status === 200 && r.data.name === "SDK chat", r.data);

	r = await chat.renameConversation(conversation, undefined, user, true);
	check("renameConversation with auto_generate succeeds", r.status === 200, r.data);

	r = await chat.deleteConversation(conversation, user);
	check("deleteConversation answers 204", r.status === 204, r.status);

	try {
		await chat.getConversationMessages(user, conversation);
		check("a deleted conversation's messages are gone", false);
	} catch (e) {
		check("a deleted conversation's messages are gone (404)",
		    e.response && e.response.status === 404 &&
		    e.response.data.message === "Conversation Not Exists.", e.response && e.response.data);
	}

	try {
		await new ChatClient("app-wrong-key", base).getConversations(user);
		check("a wrong key is refused", false);
	} catch (e) {
		check("a wrong key is refused with Dify's 401 body",
		    e.response && e.response.status === 401 &&
		    e.response.data.message === "Access token is invalid", e.response && e.response.data);
	}
}

main().catch((e) => {
	failed++;
	console.log(`not ok - the SDK run finished without an exception`);
	console.log(`#   ${String(e && e.stack || e).split("\n").slice(0, 3).join(" | ")}`);
}).finally(() => process.exit(failed ? 1 : 0));
