; Building a pyramid of blocks with one arm. The pyramid is a set of slots: the bottom
; row are places marked on the table; every slot of a higher row rests across two
; adjacent slots of the row below, so a block can go there only once both are filled.
; (rests ?s ?l ?r): slot ?s rests on ?l and ?r (a bottom slot on the table, twice);
; static. Blocks lying loose on the table are picked up; a block set into a slot stays.
; (over ?b ?l ?r): ?b lies loose on blocks ?l and ?r (?l = ?r when on one), out of any
; slot, nothing on it: where a release left it; it is taken off with unstack.
(define (domain pyramid)
  (:requirements :strips :typing)
  (:types slot surface - place block)
  (:constants table - surface)
  (:predicates
    (on ?b - block ?p - place)
    (vacant ?s - slot)
    (filled ?p - place)
    (rests ?s - slot ?l - place ?r - place)
    (over ?b - block ?l - block ?r - block)
    (holding ?b - block)
    (handempty))

  (:action pick
    :parameters (?b - block ?t - surface)
    :precondition (and (on ?b ?t) (handempty))
    :effect (and (holding ?b)
                 (not (on ?b ?t)) (not (handempty))))

  (:action unstack
    :parameters (?b - block ?l - block ?r - block)
    :precondition (and (over ?b ?l ?r) (handempty))
    :effect (and (holding ?b)
                 (not (over ?b ?l ?r)) (not (handempty))))

  (:action build
    :parameters (?b - block ?s - slot ?l - place ?r - place)
    :precondition (and (holding ?b) (vacant ?s) (rests ?s ?l ?r) (filled ?l) (filled ?r))
    :effect (and (on ?b ?s) (filled ?s) (handempty)
                 (not (holding ?b)) (not (vacant ?s)))))
