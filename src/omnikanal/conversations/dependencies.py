from typing import Annotated
from uuid import UUID

from fastapi import Depends

from omnikanal.auth.dependencies import require_roles
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.conversations import service
from omnikanal.conversations.models import Conversation
from omnikanal.http import DbSession

# Messages come from the channels' back ends (chat widget, phone system, email and social
# inboxes), each for its own channel, and from agents.
MessageSender = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.AGENT))]
# Transcripts and the customer's context are for agents (and admins) only: store staff see
# profiles and their pickups, channel back ends post but do not read.
Agent = Annotated[StaffActor, Depends(require_roles(Role.AGENT))]
# A rating comes from a survey on a channel, or is taken down by the agent.
CsatTaker = Annotated[StaffActor, Depends(require_roles(Role.CHANNEL, Role.AGENT))]


def valid_conversation(conversation_id: UUID, session: DbSession, _: Agent) -> Conversation:
    """The conversation, for an agent (the key is checked before the id is looked up)."""
    return service.get(session, conversation_id=conversation_id)


ValidConversation = Annotated[Conversation, Depends(valid_conversation)]
