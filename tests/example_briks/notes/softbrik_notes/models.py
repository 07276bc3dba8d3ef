from tortoise import fields

from softbrik.plugin import TeamScoped


class Note(TeamScoped):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    body = fields.BinaryField()
    author_id = fields.IntField()

    class Meta:
        table = "notes_note"
